import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { AurenError } from '../errors/errors';
import { digestOf, isDigest, parseDigest, sha256Digest, type Digest } from './digest';
import {
  isIndex,
  layoutVersion,
  ManifestSyntaxError,
  MAX_CONFIG_BYTES,
  parseConfig,
  parseIndex,
  parseManifest,
  type ParsedManifest,
} from './image-graph';
import {
  formatPlatform,
  MANIFEST_MEDIA_TYPES,
  OCI_INDEX,
  OCI_MANIFEST,
  type Descriptor,
  type ImageIndex,
  type Platform,
} from './media-types';

/**
 * The OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json` and
 * content-addressed `blobs/<alg>/<hex>`. It is the build artifact that scan and push read, so a
 * broken layout must fail here, with a message naming the file, before anything is sent.
 *
 * One module reads and writes it, with one `layoutBlobPath`:
 * - `readOciLayout`: the whole graph, every manifest and config hashed, for push and fetch;
 * - `readLayoutImages`: each image's config and layer descriptors, for the scan's checks;
 * - `layoutBlobWrite`, `layoutBlobLink`, `layoutIndexWrite`: the writers.
 */
export interface LayoutBlob {
  digest: string;
  size: number;
  mediaType: string;
  /** Absolute path of the blob file. */
  path: string;
}

export interface LayoutManifest extends LayoutBlob {
  /** Exactly the bytes on disk (they are what the digest names). */
  body: Buffer;
  /** `os/arch[/variant]` from the parent index's descriptor or the image config. */
  platform?: string;
  /** Digests of child manifests (for an index). */
  children: string[];
  /** Digests of config and layers (for an image manifest). */
  blobs: string[];
}

export interface OciLayout {
  dir: string;
  /** The image: the manifest or index that index.json points at. */
  digest: string;
  mediaType: string;
  /** Compressed bytes of every distinct manifest, config and layer. */
  size: number;
  /** `os/arch[/variant]`, attestation manifests (`unknown/unknown`) left out. */
  platforms: string[];
  /** Every manifest and index, children before the indexes that list them; the image last. */
  manifests: LayoutManifest[];
  /** Every distinct config and layer blob. */
  blobs: LayoutBlob[];
  /** Annotations of the index.json entry (e.g. `org.opencontainers.image.ref.name`). */
  annotations: Record<string, string>;
}

export interface ReadLayoutOptions {
  /** Pick the index.json entry with this `org.opencontainers.image.ref.name` when there are several. */
  refName?: string;
  /** Also hash every layer (configs and manifests are always checked). Default false: sizes only. */
  verifyLayers?: boolean;
}

const REF_NAME = 'org.opencontainers.image.ref.name';

function malformed(dir: string, problem: string): AurenError {
  return new AurenError(
    'input',
    `${dir} is not a valid OCI image layout: ${problem}`,
    'Rebuild the image artifact (nx run <project>:docker-build), or check that the path points at the build output folder.',
  );
}

/**
 * `blobs/<alg>/<hex>` of a layout: the one place a digest becomes a path, for the reader and
 * for writers (a released image fetched from a registry). The digest is parsed first, so a
 * path-like value (`sha256:../../x`) never names a file outside the layout.
 */
export function layoutBlobPath(dir: string, digest: string): string {
  const { algorithm, hex } = parseDigest(digest, `a blob path under ${dir}`);
  return join(dir, 'blobs', algorithm, hex);
}

async function hashFile(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `${algorithm}:${hash.digest('hex')}`;
}

function checkDescriptor(dir: string, value: unknown, where: string): Descriptor {
  const d = value as Partial<Descriptor> | undefined;
  if (!d || typeof d !== 'object') throw malformed(dir, `${where} is not a descriptor`);
  if (typeof d.mediaType !== 'string' || !d.mediaType) throw malformed(dir, `${where} has no mediaType`);
  if (!isDigest(d.digest)) throw malformed(dir, `${where} has an invalid digest "${String(d.digest)}"`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw malformed(dir, `${where} has an invalid size`);
  return d as Descriptor;
}

/** A parser's complaint in the layout's words: not JSON, not the expected document, or which descriptor is wrong. */
function syntaxProblem(error: ManifestSyntaxError, expected: string): string {
  if (/valid JSON|expected a JSON/.test(error.message)) return 'is not valid JSON';
  if (/schemaVersion|"manifests" list/.test(error.message)) return `is not ${expected}`;
  return `is invalid: ${error.message}`;
}

async function readLayoutFile(dir: string, path: string, label: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw malformed(dir, `${label} is missing (${code ?? String(error)})`);
  }
}

export async function readOciLayout(dir: string, options: ReadLayoutOptions = {}): Promise<OciLayout> {
  let version: unknown;
  try {
    version = layoutVersion(await readLayoutFile(dir, join(dir, 'oci-layout'), 'oci-layout'));
  } catch (error) {
    if (!(error instanceof ManifestSyntaxError)) throw error;
    throw malformed(dir, 'oci-layout is not valid JSON');
  }
  if (version !== '1.0.0') {
    throw malformed(dir, `oci-layout has imageLayoutVersion ${version === undefined ? 'undefined' : JSON.stringify(version)}, expected "1.0.0"`);
  }
  const topBody = await readLayoutFile(dir, join(dir, 'index.json'), 'index.json');
  let top: ImageIndex;
  try {
    top = parseIndex(topBody).document as ImageIndex;
  } catch (error) {
    if (!(error instanceof ManifestSyntaxError)) throw error;
    throw malformed(dir, `index.json ${syntaxProblem(error, 'a schemaVersion 2 index with a "manifests" list')}`);
  }
  const entries = top.manifests.map((m, i) => checkDescriptor(dir, m, `index.json manifests[${i}]`));
  if (entries.length === 0) throw malformed(dir, 'index.json lists no image');
  let entry: Descriptor | undefined;
  if (options.refName !== undefined) {
    entry = entries.find((e) => e.annotations?.[REF_NAME] === options.refName);
    if (!entry) throw malformed(dir, `index.json has no image named "${options.refName}"`);
  } else if (new Set(entries.map((e) => e.digest)).size === 1) {
    entry = entries[0];
  } else {
    const names = entries.map((e) => e.annotations?.[REF_NAME] ?? e.digest).join(', ');
    throw malformed(dir, `index.json lists ${entries.length} images (${names}); pick one by ref name`);
  }

  const manifests = new Map<string, LayoutManifest>();
  const ordered: LayoutManifest[] = [];
  const blobs = new Map<string, LayoutBlob>();
  const platforms: string[] = [];

  const checkBlobFile = async (descriptor: Descriptor, where: string): Promise<string> => {
    const path = layoutBlobPath(dir, descriptor.digest);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw malformed(dir, `${where} references blob ${descriptor.digest}, which is missing from blobs/`);
    if (info.size !== descriptor.size) {
      throw malformed(dir, `blob ${descriptor.digest} is ${info.size} bytes but ${where} says ${descriptor.size}`);
    }
    return path;
  };

  const addBlob = async (descriptor: Descriptor, where: string, verify: boolean): Promise<Buffer | undefined> => {
    const path = await checkBlobFile(descriptor, where);
    let body: Buffer | undefined;
    const { algorithm } = parseDigest(descriptor.digest);
    if (verify) {
      body = await readFile(path);
      const digest = digestOf(algorithm, body);
      if (digest !== descriptor.digest) throw malformed(dir, `blob ${descriptor.digest} does not hash to its name (got ${digest})`);
    } else if (options.verifyLayers) {
      const digest = await hashFile(path, algorithm);
      if (digest !== descriptor.digest) throw malformed(dir, `blob ${descriptor.digest} does not hash to its name (got ${digest})`);
    }
    if (!blobs.has(descriptor.digest)) blobs.set(descriptor.digest, { digest: descriptor.digest, size: descriptor.size, mediaType: descriptor.mediaType, path });
    return body;
  };

  const visit = async (descriptor: Descriptor, where: string, stack: string[]): Promise<LayoutManifest> => {
    if (stack.includes(descriptor.digest)) throw malformed(dir, `index ${descriptor.digest} contains itself`);
    const seen = manifests.get(descriptor.digest);
    if (seen) return seen;
    const path = await checkBlobFile(descriptor, where);
    const body = await readFile(path);
    const actual = digestOf(parseDigest(descriptor.digest).algorithm, body);
    if (actual !== descriptor.digest) throw malformed(dir, `manifest ${descriptor.digest} does not hash to its name (got ${actual})`);
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(body);
    } catch (error) {
      if (!(error instanceof ManifestSyntaxError)) throw error;
      throw malformed(dir, `manifest ${descriptor.digest} ${syntaxProblem(error, 'schemaVersion 2')}`);
    }
    const json = parsed.document;
    const mediaType = json.mediaType ?? descriptor.mediaType;
    const node: LayoutManifest = {
      digest: descriptor.digest,
      size: descriptor.size,
      mediaType,
      path,
      body,
      platform: descriptor.platform ? formatPlatform(descriptor.platform) : undefined,
      children: [],
      blobs: [],
    };
    const label = `manifest ${descriptor.digest}`;
    if (isIndex(mediaType, json)) {
      if (!Array.isArray(json.manifests)) throw malformed(dir, `index ${descriptor.digest} has no "manifests" list`);
      for (const [i, raw] of json.manifests.entries()) {
        const child = checkDescriptor(dir, raw, `${label} manifests[${i}]`);
        await visit(child, `${label} manifests[${i}]`, [...stack, descriptor.digest]);
        node.children.push(child.digest);
      }
    } else {
      if (!MANIFEST_MEDIA_TYPES.includes(mediaType) && !json.config) {
        throw malformed(dir, `${label} has unsupported media type ${mediaType}`);
      }
      const config = checkDescriptor(dir, json.config, `${label} config`);
      if (!Array.isArray(json.layers)) throw malformed(dir, `${label} has no "layers" list`);
      const configBody = await addBlob(config, `${label} config`, true);
      node.blobs.push(config.digest);
      for (const [i, raw] of json.layers.entries()) {
        const layer = checkDescriptor(dir, raw, `${label} layers[${i}]`);
        await addBlob(layer, `${label} layers[${i}]`, false);
        node.blobs.push(layer.digest);
      }
      if (!node.platform && configBody && /image\.config|container\.image/.test(config.mediaType)) {
        let parsed: Partial<Platform>;
        try {
          parsed = parseConfig(configBody) as Partial<Platform>;
        } catch (error) {
          if (!(error instanceof ManifestSyntaxError)) throw error;
          throw malformed(dir, `config ${config.digest} is not valid JSON`);
        }
        if (parsed.os && parsed.architecture) node.platform = formatPlatform(parsed as Platform);
      }
    }
    manifests.set(node.digest, node);
    ordered.push(node);
    return node;
  };

  const image = await visit(entry, 'index.json', []);
  const leaves = image.children.length ? ordered.filter((m) => m.children.length === 0) : [image];
  for (const leaf of leaves) {
    if (leaf.platform && leaf.platform !== 'unknown/unknown' && !platforms.includes(leaf.platform)) platforms.push(leaf.platform);
  }
  const size = [...manifests.values(), ...blobs.values()].reduce((sum, b) => sum + b.size, 0);
  return {
    dir,
    digest: image.digest,
    mediaType: image.mediaType,
    size,
    platforms,
    manifests: ordered,
    blobs: [...blobs.values()],
    annotations: entry.annotations ?? {},
  };
}

/**
 * The images of a layout as the scan's built-in checks read them: index.json walked (nested
 * indexes included) to every image manifest, with its config and layer descriptors. Attestation
 * manifests are left out, and nothing is hashed: the checks read the layers themselves.
 */
export interface ImageConfig {
  config?: { User?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface LayoutImage {
  manifestDigest: string;
  /** The manifest's descriptor as its index lists it (media type, size, platform). */
  descriptor: Descriptor;
  /** `os/arch[/variant]`, or `unknown` when the descriptor does not say. */
  platform: string;
  config: ImageConfig;
  layers: Descriptor[];
}

export interface LayoutImages {
  dir: string;
  images: LayoutImage[];
  /** Compressed bytes of every distinct blob reachable from index.json. */
  reachableBytes: number;
}

/**
 * The most a layout's JSON file (oci-layout, index.json, a manifest or a config) may hold: what
 * registries accept for a manifest (4 MiB), and image-graph's bound for a config.
 */
export const MAX_LAYOUT_JSON_BYTES = Math.max(4 * 1024 * 1024, MAX_CONFIG_BYTES);

/**
 * A layout file's bytes, from a regular file of at most MAX_LAYOUT_JSON_BYTES: the layout may
 * come from a cache or another machine, and a link to a device, a file that grows while it is
 * read or one of gigabytes must fail this scan, not take the process's memory.
 */
async function readBounded(path: string, what: string): Promise<Buffer> {
  const cannot = (reason: string) => new AurenError('input', `cannot read ${what} at ${path}: ${reason}`,
    'Run the docker-build target first; it writes the OCI layout that scan reads.');
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw cannot(error.code ?? String(error));
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new AurenError('input', `${what} at ${path} is not a regular file`, 'Rebuild the image with the docker-build target.');
    if (info.size > MAX_LAYOUT_JSON_BYTES) {
      throw new AurenError('input', `${what} at ${path} is ${info.size} bytes: more than the ${MAX_LAYOUT_JSON_BYTES / 1024 / 1024} MiB such a file may hold`, 'Rebuild the image with the docker-build target.');
    }
    // One byte past the bound tells a file that grew since stat.
    const buffer = Buffer.alloc(info.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > info.size) throw cannot('it changed while it was read');
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/** Reads a layout file and parses it with one of image-graph's parsers; both failures name the file. */
async function readParsed<T>(path: string, what: string, parse: (body: Buffer) => T): Promise<T> {
  const body = await readBounded(path, what);
  try {
    return parse(body);
  } catch (error) {
    if (!(error instanceof ManifestSyntaxError)) throw error;
    throw new AurenError('input', `${what} at ${path} is not valid: ${error.message}`, 'Rebuild the image with the docker-build target.');
  }
}

async function assertLayout(layoutDir: string): Promise<void> {
  const version = await readParsed(join(layoutDir, 'oci-layout'), 'oci-layout marker', layoutVersion);
  if (!version) {
    throw new AurenError('input', `${layoutDir}/oci-layout has no imageLayoutVersion: not an OCI image layout`);
  }
  await stat(join(layoutDir, 'index.json')).catch(() => {
    throw new AurenError('input', `${layoutDir} has no index.json: not an OCI image layout`,
      'Run the docker-build target first; it writes the OCI layout that scan reads.');
  });
}

function isAttestation(descriptor: Descriptor): boolean {
  // BuildKit stores provenance/SBOM as extra "manifests" for platform unknown/unknown.
  return (
    descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (descriptor.platform?.os === 'unknown' && descriptor.platform?.architecture === 'unknown')
  );
}

function platformOf(descriptor: Descriptor): string {
  const p = descriptor.platform;
  return p?.os && p.architecture ? formatPlatform(p) : 'unknown';
}

export async function readLayoutImages(layoutDir: string): Promise<LayoutImages> {
  await assertLayout(layoutDir);
  const seen = new Map<string, number>();
  const images: LayoutImage[] = [];
  const index = await readParsed(join(layoutDir, 'index.json'), 'index.json', (body) => parseManifest(body));

  const visit = async (descriptors: Descriptor[], depth: number): Promise<void> => {
    if (depth > 4) throw new AurenError('input', `OCI layout ${layoutDir}: indexes nested too deeply`);
    for (const d of descriptors) {
      if (isAttestation(d)) continue;
      seen.set(d.digest, d.size);
      const body = await readParsed(layoutBlobPath(layoutDir, d.digest), `blob ${d.digest}`, (bytes) => parseManifest(bytes, d.mediaType));
      if (body.kind === 'index') {
        await visit(body.children, depth + 1);
        continue;
      }
      if (!body.config) continue;
      const layers = body.layers;
      seen.set(body.config.digest, body.config.size);
      for (const layer of layers) seen.set(layer.digest, layer.size);
      images.push({
        manifestDigest: d.digest,
        descriptor: { ...d, mediaType: d.mediaType ?? body.document.mediaType ?? OCI_MANIFEST },
        platform: platformOf(d),
        config: (await readParsed(layoutBlobPath(layoutDir, body.config.digest), `image config ${body.config.digest}`, (bytes) => parseConfig(bytes))) as ImageConfig,
        layers,
      });
    }
  };
  await visit(index.children, 0);
  if (images.length === 0) {
    throw new AurenError('input', `OCI layout ${layoutDir} contains no image manifest`, 'Rebuild the image with the docker-build target.');
  }
  const reachableBytes = [...seen.values()].reduce((sum, size) => sum + (Number.isFinite(size) ? size : 0), 0);
  return { dir: layoutDir, images, reachableBytes };
}

/** Writes `bytes` as a sha256 blob of the layout; the digest and size name it in a descriptor. */
export async function layoutBlobWrite(dir: string, bytes: Buffer | string): Promise<{ digest: Digest; size: number }> {
  const digest = sha256Digest(bytes);
  const path = layoutBlobPath(dir, digest);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return { digest, size: Buffer.byteLength(bytes) };
}

/**
 * Puts `file`, whose digest the caller knows, in the layout as blob `digest`, unless the layout
 * has it. A hard link costs no space; across file systems the blob is copied.
 */
export async function layoutBlobLink(dir: string, digest: string, file: string): Promise<void> {
  const target = layoutBlobPath(dir, digest);
  if ((await stat(target).catch(() => undefined)) !== undefined) return;
  await mkdir(dirname(target), { recursive: true });
  await link(file, target).catch(() => copyFile(file, target));
}

/** The `oci-layout` marker and an `index.json` listing `manifests`: what makes a folder of blobs a layout. */
export async function layoutIndexWrite(dir: string, manifests: readonly Descriptor[]): Promise<void> {
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
}

export type BlobCompression = 'gzip' | 'zstd' | 'none';

/** How a layer blob is compressed, from its magic bytes (a media type can lie or be generic). */
export async function blobCompression(file: string): Promise<BlobCompression> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) return 'gzip';
    if (bytesRead === 4 && buffer.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await handle.close();
  }
}
