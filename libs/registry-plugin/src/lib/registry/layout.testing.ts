import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { readOciLayout, type OciLayout } from './layout';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, type Descriptor } from './media-types';

/**
 * Writes a small but real OCI image layout without a builder, for tests: gzip'd tar layers of
 * random bytes, configs with correct `diff_ids`, one manifest per platform and (for several
 * platforms) an index. skopeo and the registry accept it like any built image.
 */
export interface TestLayoutOptions {
  /** Default `['linux/amd64', 'linux/arm64']`. */
  platforms?: string[];
  /** Top-level index even for one platform. Default: only when there are several platforms. */
  index?: boolean;
  /** Own layers per platform. Default 2. */
  layers?: number;
  /** Random bytes per own layer. Default 2048. */
  layerBytes?: number;
  /** One layer shared by every platform (like a common base); 0 for none. Default 1024. */
  sharedLayerBytes?: number;
  /** Folder to write into; default a new temp folder. */
  dir?: string;
}

export interface TestLayout {
  dir: string;
  digest: string;
  layout: OciLayout;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A tar of the given files (path → content), with fixed dates and modes so equal input gives equal bytes. */
export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  for (const [name, content] of Object.entries(files)) archive.entry({ name, mtime: new Date(0), mode: 0o644 }, content);
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function writeTestLayout(options: TestLayoutOptions = {}): Promise<TestLayout> {
  const platforms = options.platforms ?? ['linux/amd64', 'linux/arm64'];
  const useIndex = options.index ?? platforms.length > 1;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'auren-layout-')));
  const blobsDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });

  const putBlob = async (data: Buffer, mediaType: string, extra: Partial<Descriptor> = {}): Promise<Descriptor> => {
    const digest = sha256(data);
    await writeFile(join(blobsDir, digest.slice('sha256:'.length)), data);
    return { mediaType, digest, size: data.length, ...extra };
  };
  const makeLayer = async (name: string, bytes: number) => {
    const tar = await tarOf({ [name]: randomBytes(bytes) });
    const descriptor = await putBlob(gzipSync(tar), OCI_LAYER_GZIP);
    return { descriptor, diffId: sha256(tar) };
  };

  const shared = (options.sharedLayerBytes ?? 1024) > 0 ? await makeLayer('base.bin', options.sharedLayerBytes ?? 1024) : undefined;
  const manifests: Descriptor[] = [];
  for (const platform of platforms) {
    const [os, architecture, variant] = platform.split('/');
    const own = [];
    for (let i = 0; i < (options.layers ?? 2); i++) own.push(await makeLayer(`${architecture}-${i}.bin`, options.layerBytes ?? 2048));
    const layers = shared ? [shared, ...own] : own;
    const config = Buffer.from(
      JSON.stringify({
        created: '2024-01-01T00:00:00Z',
        architecture,
        os,
        ...(variant ? { variant } : {}),
        config: { Labels: { 'org.opencontainers.image.title': 'auren-test', nonce: randomBytes(8).toString('hex') } },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
        history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'auren test layout' })),
      }),
    );
    const configDescriptor = await putBlob(config, OCI_CONFIG);
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor, layers: layers.map((l) => l.descriptor) }),
    );
    manifests.push(
      await putBlob(manifest, OCI_MANIFEST, { platform: { os, architecture, ...(variant ? { variant } : {}) } }),
    );
  }
  let top: Descriptor;
  if (useIndex) {
    top = await putBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })), OCI_INDEX);
  } else {
    const { platform: _platform, ...rest } = manifests[0];
    top = rest;
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }),
  );
  const layout = await readOciLayout(dir);
  return { dir, digest: layout.digest, layout };
}
