import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AurenError } from '../errors/errors';
import { layoutVersion, ManifestSyntaxError, MAX_CONFIG_BYTES, parseConfig, parseManifest } from '../registry/image-graph';

/**
 * Just enough of an OCI image layout reader for the built-in checks: walk index.json (nested
 * indexes included) to every image manifest, with its config and layer descriptors.
 * https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md
 */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

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

export interface OciLayout {
  dir: string;
  images: LayoutImage[];
  /** Compressed bytes of every distinct blob reachable from index.json. */
  reachableBytes: number;
}

const DIGEST_RE = /^(sha256|sha512):([a-f0-9]{64,128})$/;

export function blobPath(layoutDir: string, digest: string): string {
  const match = DIGEST_RE.exec(digest);
  // The digest comes from files we did not write; never let it escape blobs/.
  if (!match) throw new AurenError('input', `invalid digest "${digest}" in OCI layout ${layoutDir}`);
  return join(layoutDir, 'blobs', match[1], match[2]);
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

export async function assertLayout(layoutDir: string): Promise<void> {
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
  if (!p?.os || !p.architecture) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export async function readLayout(layoutDir: string): Promise<OciLayout> {
  await assertLayout(layoutDir);
  const seen = new Map<string, number>();
  const images: LayoutImage[] = [];
  const index = await readParsed(join(layoutDir, 'index.json'), 'index.json', (body) => parseManifest(body));

  const visit = async (descriptors: Descriptor[], depth: number): Promise<void> => {
    if (depth > 4) throw new AurenError('input', `OCI layout ${layoutDir}: indexes nested too deeply`);
    for (const d of descriptors) {
      if (isAttestation(d)) continue;
      seen.set(d.digest, d.size);
      const body = await readParsed(blobPath(layoutDir, d.digest), `blob ${d.digest}`, (bytes) => parseManifest(bytes, d.mediaType));
      if (body.kind === 'index') {
        await visit(body.children as Descriptor[], depth + 1);
        continue;
      }
      if (!body.config) continue;
      const layers = body.layers as Descriptor[];
      seen.set(body.config.digest, body.config.size);
      for (const layer of layers) seen.set(layer.digest, layer.size);
      images.push({
        manifestDigest: d.digest,
        descriptor: { ...d, mediaType: d.mediaType ?? body.document.mediaType ?? 'application/vnd.oci.image.manifest.v1+json' },
        platform: platformOf(d),
        config: (await readParsed(blobPath(layoutDir, body.config.digest), `image config ${body.config.digest}`, (bytes) => parseConfig(bytes))) as ImageConfig,
        layers,
      });
    }
  };
  await visit(index.children as Descriptor[], 0);
  if (images.length === 0) {
    throw new AurenError('input', `OCI layout ${layoutDir} contains no image manifest`, 'Rebuild the image with the docker-build target.');
  }
  const reachableBytes = [...seen.values()].reduce((sum, size) => sum + (Number.isFinite(size) ? size : 0), 0);
  return { dir: layoutDir, images, reachableBytes };
}
