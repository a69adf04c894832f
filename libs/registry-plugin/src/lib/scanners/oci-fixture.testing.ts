import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

/** Test helper: writes a real OCI image layout (gzip tar layers made with tar-stream) to a temp dir. */
export interface FixtureEntry {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink';
  linkname?: string;
}

export interface FixtureImage {
  layers: FixtureEntry[][];
  user?: string;
  platform?: { os: string; architecture: string };
  /** Store this layer index uncompressed (plain tar). */
  plainLayers?: number[];
}

export interface Fixture {
  root: string;
  layoutDir: string;
  digest: string;
  size: number;
  layerDigests: string[][];
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export async function tarOf(entries: FixtureEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const type = e.type ?? 'file';
      const header = { name: e.name, type, linkname: e.linkname, mode: type === 'directory' ? 0o755 : 0o644 };
      pack.entry(header, type === 'file' ? e.content ?? '' : undefined, (err?: Error | null) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function putBlob(layoutDir: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  await writeFile(join(layoutDir, 'blobs', 'sha256', digest.slice(7)), data);
  return digest;
}

/** One image, or several (a multi-platform index) when `images` has more than one entry. */
export async function writeOciLayout(images: FixtureImage[], root?: string): Promise<Fixture> {
  const dir = root ?? (await mkdtemp(join(tmpdir(), 'auren-scan-')));
  const layoutDir = join(dir, 'oci');
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  let size = 0;
  const manifests: Array<{ mediaType: string; digest: string; size: number; platform: { os: string; architecture: string } }> = [];
  const layerDigests: string[][] = [];
  for (const image of images) {
    const layers = [];
    const diffIds = [];
    for (const [i, entries] of image.layers.entries()) {
      const plain = await tarOf(entries);
      const stored = image.plainLayers?.includes(i) ? plain : gzipSync(plain);
      const digest = await putBlob(layoutDir, stored);
      diffIds.push(sha256(plain));
      layers.push({
        mediaType: image.plainLayers?.includes(i) ? 'application/vnd.oci.image.layer.v1.tar' : 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest,
        size: stored.length,
      });
    }
    layerDigests.push(layers.map((l) => l.digest));
    const platform = image.platform ?? { os: 'linux', architecture: 'amd64' };
    const config = Buffer.from(JSON.stringify({
      ...platform,
      config: { ...(image.user !== undefined ? { User: image.user } : {}), Env: ['PATH=/usr/bin'], Cmd: ['/bin/app'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }));
    const configDigest = await putBlob(layoutDir, config);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers,
    }));
    const manifestDigest = await putBlob(layoutDir, manifest);
    size += manifest.length + config.length + layers.reduce((n, l) => n + l.size, 0);
    manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, platform });
  }
  let top: { mediaType: string; digest: string; size: number };
  if (manifests.length === 1) {
    top = manifests[0];
  } else {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: await putBlob(layoutDir, index), size: index.length };
    size += index.length;
  }
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [top] }));
  return { root: dir, layoutDir, digest: top.digest, size, layerDigests };
}

/**
 * A PEM block that looks like a private key to a scanner; the body is not a key. Assembled at run
 * time so this source file does not itself trip secret scanners (ours, or a host's push protection).
 */
const PEM_LABEL = ['RSA', 'PRIVATE', 'KEY'].join(' ');
export const FAKE_PEM = [
  `-----BEGIN ${PEM_LABEL}-----`,
  'MIIEowIBAAKCAQEAauren0000000000000000000000000000000000000000000',
  `-----END ${PEM_LABEL}-----`,
  '',
].join('\n');
