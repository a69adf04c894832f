import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AurenError } from '../errors/errors';
import { isDigest, parseDigest } from './digest';
import { isIndex, layoutVersion, ManifestSyntaxError, parseConfig, parseIndex, parseManifest, type ParsedManifest } from './image-graph';
import {
  formatPlatform,
  MANIFEST_MEDIA_TYPES,
  type Descriptor,
  type ImageIndex,
  type Platform,
} from './media-types';

/**
 * Reader of an OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json` and
 * content-addressed `blobs/<alg>/<hex>`. It is the build artifact that scan and push read, so a
 * broken layout must fail here, with a message naming the file, before anything is sent.
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
const blobPath = layoutBlobPath;

async function hashFile(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `${algorithm}:${hash.digest('hex')}`;
}

function checkDescriptor(dir: string, value: unknown, where: string): Descriptor {
  const d = value as Partial<Descriptor> | undefined;
  if (!d || typeof d !== 'object') throw malformed(dir, `${where} is not a descriptor`);
  if (typeof d.mediaType !== 'string' || !d.mediaType) throw malformed(dir, `${where} has no mediaType`);
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw malformed(dir, `${where} has an invalid digest "${String(d.digest)}"`);
  if (!d.digest.startsWith('sha256:') && !d.digest.startsWith('sha512:')) {
    throw malformed(dir, `${where} uses an unsupported digest algorithm (${d.digest})`);
  }
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
    const path = blobPath(dir, descriptor.digest);
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
    if (verify) {
      body = await readFile(path);
      const digest = `${descriptor.digest.split(':')[0]}:${createHash(descriptor.digest.split(':')[0]).update(body).digest('hex')}`;
      if (digest !== descriptor.digest) throw malformed(dir, `blob ${descriptor.digest} does not hash to its name (got ${digest})`);
    } else if (options.verifyLayers) {
      const digest = await hashFile(path, descriptor.digest.split(':')[0]);
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
    const algorithm = descriptor.digest.split(':')[0];
    const actual = `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
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
