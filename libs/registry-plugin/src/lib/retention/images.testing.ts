import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { RegistryClient } from '../registry/client';
import { sha256Digest } from '../registry/digest';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, type Platform } from '../registry/media-types';
import { historyRepository, recordPushEvent } from '../history/store';

/**
 * Tiny synthetic images for tests and the bench, pushed with our own client: a random one-file
 * layer (a real gzipped tar, so standard clients can pull and unpack it), a config with
 * `created`, a manifest; and indexes over them.
 */

export interface PushedManifest {
  digest: string;
  mediaType: string;
  body: Buffer;
  /** Config and layer digests. */
  blobs: string[];
  children: string[];
}

async function tarOf(name: string, content: Buffer): Promise<Buffer> {
  const p = pack();
  p.entry({ name, mtime: new Date(0) }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

const blob = (bytes: Buffer) => ({ digest: sha256Digest(bytes), size: bytes.length, open: () => Readable.from([bytes]) });

export async function pushTestImage(
  client: RegistryClient,
  repo: string,
  options: { created?: string; platform?: Platform; layerBytes?: number; tag?: string; annotations?: Record<string, string> } = {},
): Promise<PushedManifest> {
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const tar = await tarOf('data.bin', randomBytes(options.layerBytes ?? 2048));
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      created: options.created ?? new Date().toISOString(),
      architecture: platform.architecture,
      os: platform.os,
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] },
    }),
  );
  await client.blobUpload(repo, blob(layer));
  await client.blobUpload(repo, blob(config));
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: OCI_LAYER_GZIP, digest: sha256Digest(layer), size: layer.length }],
      ...(options.annotations ? { annotations: options.annotations } : {}),
    }),
  );
  const { digest } = await client.manifestPut(repo, options.tag ?? sha256Digest(body), body, OCI_MANIFEST);
  return { digest, mediaType: OCI_MANIFEST, body, blobs: [sha256Digest(config), sha256Digest(layer)], children: [] };
}

export async function pushIndex(client: RegistryClient, repo: string, children: Array<PushedManifest & { platform: Platform }>, tag?: string): Promise<PushedManifest> {
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((c) => ({ mediaType: c.mediaType, digest: c.digest, size: c.body.length, platform: c.platform })),
    }),
  );
  const { digest } = await client.manifestPut(repo, tag ?? sha256Digest(body), body, OCI_INDEX);
  return { digest, mediaType: OCI_INDEX, body, blobs: [], children: children.map((c) => c.digest) };
}

/** A multi-arch image: amd64 and arm64 manifests under one index. */
export async function pushMultiArch(client: RegistryClient, repo: string, created?: string, tag?: string): Promise<{ index: PushedManifest; children: PushedManifest[] }> {
  const platforms: Platform[] = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64' },
  ];
  const children = await Promise.all(platforms.map(async (platform) => ({ ...(await pushTestImage(client, repo, { created, platform })), platform })));
  return { index: await pushIndex(client, repo, children, tag), children };
}

export async function tagManifest(client: RegistryClient, repo: string, tag: string, m: PushedManifest): Promise<void> {
  await client.manifestPut(repo, tag, m.body, m.mediaType);
}

/**
 * Records in the push history (`<namespace>/auren-history`) that `manifest` was pushed to `repo`
 * at `at`, as docker-push does after a push: retention ages images by these events.
 */
export async function recordPushed(client: RegistryClient, repo: string, digest: string, at: string | Date, tags: string[] = []): Promise<void> {
  const when = new Date(at);
  await recordPushEvent(
    client,
    historyRepository(repo.includes('/') ? repo.slice(0, repo.indexOf('/')) : ''),
    { outcome: 'success', project: repo.slice(repo.lastIndexOf('/') + 1), registry: client.registry, repository: repo, digest, tags, at: when.toISOString() },
    when,
  );
}
