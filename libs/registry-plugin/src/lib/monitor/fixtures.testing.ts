import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { RegistryClient } from '../registry/client';
import { sha256Digest } from '../registry/digest';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, type Descriptor, type Platform } from '../registry/media-types';

/** Synthetic images pushed through our client: real, random blobs, so pulls read real bytes. */
export interface PushedManifest {
  digest: string;
  platform: string;
  configBytes: number;
  layerBytes: number;
  /** config + layers, what the monitor must report for this platform. */
  sizeBytes: number;
}

export interface PushedImage {
  repo: string;
  digest: string;
  tags: string[];
  created: string;
  platforms: PushedManifest[];
}

async function putBlob(client: RegistryClient, repo: string, bytes: Buffer): Promise<Descriptor & { size: number }> {
  const digest = sha256Digest(bytes);
  await client.blobUpload(repo, { digest, size: bytes.length, open: () => Readable.from([bytes]) });
  return { mediaType: OCI_LAYER_GZIP, digest, size: bytes.length };
}

async function putManifest(client: RegistryClient, repo: string, platform: Platform, layerSizes: number[], created: string) {
  const layers = await Promise.all(layerSizes.map((size) => putBlob(client, repo, randomBytes(size))));
  const configJson = Buffer.from(
    JSON.stringify({ created, architecture: platform.architecture, os: platform.os, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} }),
  );
  const config = { ...(await putBlob(client, repo, configJson)), mediaType: OCI_CONFIG };
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }));
  const { digest } = await client.manifestPut(repo, sha256Digest(body), body, OCI_MANIFEST);
  const layerBytes = layers.reduce((n, l) => n + l.size, 0);
  return { digest, body, platform: `${platform.os}/${platform.architecture}`, configBytes: config.size, layerBytes, sizeBytes: config.size + layerBytes };
}

/** A single-platform image (linux/amd64) with random layers of the given sizes. */
export async function pushTestImage(client: RegistryClient, repo: string, tags: string[], layerSizes: number[], created: string): Promise<PushedImage> {
  const m = await putManifest(client, repo, { os: 'linux', architecture: 'amd64' }, layerSizes, created);
  for (const tag of tags) await client.manifestPut(repo, tag, m.body, OCI_MANIFEST);
  return { repo, digest: m.digest, tags, created, platforms: [{ digest: m.digest, platform: 'linux/amd64', configBytes: m.configBytes, layerBytes: m.layerBytes, sizeBytes: m.sizeBytes }] };
}

/** An OCI index over one manifest per platform. */
export async function pushIndex(
  client: RegistryClient,
  repo: string,
  tags: string[],
  platforms: Array<{ platform: Platform; layerSizes: number[] }>,
  created: string,
): Promise<PushedImage> {
  const children = await Promise.all(platforms.map((p) => putManifest(client, repo, p.platform, p.layerSizes, created)));
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((c, i) => ({ mediaType: OCI_MANIFEST, digest: c.digest, size: c.body.length, platform: platforms[i].platform })),
      annotations: { 'org.opencontainers.image.created': created },
    }),
  );
  const digest = sha256Digest(body);
  await client.manifestPut(repo, digest, body, OCI_INDEX);
  for (const tag of tags) await client.manifestPut(repo, tag, body, OCI_INDEX);
  return {
    repo,
    digest,
    tags,
    created,
    platforms: children.map((c) => ({ digest: c.digest, platform: c.platform, configBytes: c.configBytes, layerBytes: c.layerBytes, sizeBytes: c.sizeBytes })),
  };
}

/** A report.json as the scan target writes it, trimmed to what the monitor reads. */
export function scanReportJson(project: string, digest: string, counts: { CRITICAL?: number; HIGH?: number; MEDIUM?: number; LOW?: number }, scannedAt = new Date().toISOString()) {
  const full = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0, ...counts };
  return JSON.stringify({
    schemaVersion: 1,
    image: { name: `auren/${project}`, project, digest, platforms: ['linux/amd64'], compressedBytes: 0 },
    registry: 'test',
    scannedAt,
    verdict: full.CRITICAL ? 'blocked' : 'pass',
    vulnerabilityScan: { status: 'scanned', scanner: { name: 'trivy', version: '0.0.0-test', db: 'test' }, rawReport: 'trivy.json' },
    gate: { verdict: full.CRITICAL ? 'blocked' : 'pass', blockOn: ['HIGH', 'CRITICAL'], blocking: [], ignored: [], expiredRules: [], counts: full, evaluatedOn: scannedAt.slice(0, 10) },
    findings: full.CRITICAL ? [{ id: 'CVE-2024-0001', severity: 'CRITICAL', pkgName: 'openssl', installedVersion: '3.0.0', fixedVersion: '3.0.1' }] : [],
    checks: [],
  });
}
