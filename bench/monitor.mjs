// Bench: `nx run registry:monitor` work over 3 repositories × 1,000 tags on a local registry.
// Target: under 30 s. Run from the workspace root:  node bench/monitor.mjs [tagsPerRepo]
// Setup (pushing the synthetic images) is not timed; the monitor run is (pull test included).
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const require = createRequire(import.meta.url);
require('@swc-node/register');
const src = '../libs/registry-plugin/src';
const { startTestRegistry } = require(`${src}/testing/registry-server.testing.ts`);
const { createRegistryClient } = require(`${src}/lib/registry/client.ts`);
const { mapLimit } = require(`${src}/lib/registry/concurrency.ts`);
const { sha256Digest } = require(`${src}/lib/registry/digest.ts`);
const { monitorRegistry } = require(`${src}/lib/monitor/index.ts`);
const { normalizeOptions } = require(`${src}/lib/config/options.ts`);
const { recordPushEvent, historyRepository } = require(`${src}/lib/history/index.ts`);

const TAGS_PER_REPO = Number(process.argv[2] ?? 1000);
const REPOS = ['auren/auren-api', 'auren/biometric-bridge', 'auren/auren-nginx'];
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

let requests = 0;
const registry = await startTestRegistry();
const client = createRegistryClient({ registry: registry.host, onRequest: () => requests++ });
const blob = async (repo, bytes, mediaType) => {
  const digest = sha256Digest(bytes);
  await client.blobUpload(repo, { digest, size: bytes.length, open: () => Readable.from([bytes]) });
  return { mediaType, digest, size: bytes.length };
};

try {
  const setupStart = Date.now();
  // Each image gets two tags (semver + sha-…): TAGS_PER_REPO / 2 distinct images per repository;
  // every 10th is a two-platform index. Layers come from a small shared pool (as base layers do),
  // configs are distinct per image.
  for (const repo of REPOS) {
    const pool = [];
    for (let i = 0; i < 8; i++) pool.push(await blob(repo, randomBytes(2048 + i * 512), 'application/vnd.oci.image.layer.v1.tar+gzip'));
    const images = Array.from({ length: TAGS_PER_REPO / 2 }, (_, i) => i);
    await mapLimit(images, 16, async (i) => {
      const created = new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString();
      const manifestFor = async (arch) => {
        const config = await blob(repo, Buffer.from(JSON.stringify({ created, os: 'linux', architecture: arch, n: i, rootfs: { type: 'layers', diff_ids: [] } })), 'application/vnd.oci.image.config.v1+json');
        const layers = [pool[i % 8], pool[(i + 3) % 8], pool[(i + 5) % 8]];
        const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }));
        return { body, digest: sha256Digest(body) };
      };
      const version = `1.${Math.floor(i / 100)}.${i % 100}`;
      const tags = [version, `sha-${sha256Digest(String(i)).slice(7, 14)}`];
      if (i % 10 === 0) {
        const children = await Promise.all(['amd64', 'arm64'].map(manifestFor));
        for (const c of children) await client.manifestPut(repo, c.digest, c.body, OCI_MANIFEST);
        const index = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_INDEX,
            manifests: children.map((c, k) => ({ mediaType: OCI_MANIFEST, digest: c.digest, size: c.body.length, platform: { os: 'linux', architecture: k ? 'arm64' : 'amd64' } })),
          }),
        );
        for (const tag of tags) await client.manifestPut(repo, tag, index, OCI_INDEX);
      } else {
        const m = await manifestFor('amd64');
        for (const tag of tags) await client.manifestPut(repo, tag, m.body, OCI_MANIFEST);
      }
    });
  }
  await mapLimit(Array.from({ length: 200 }, (_, i) => i), 16, (i) =>
    recordPushEvent(client, historyRepository('auren'), { outcome: i % 50 ? 'success' : 'failure', project: 'auren-api', registry: registry.host, repository: REPOS[i % 3], tags: [] }),
  );
  console.log(`setup: ${REPOS.length} repositories × ${TAGS_PER_REPO} tags + 200 history events in ${((Date.now() - setupStart) / 1000).toFixed(1)} s`);

  requests = 0;
  const started = process.hrtime.bigint();
  const outcome = await monitorRegistry({
    config: normalizeOptions({ registry: registry.host, namespace: 'auren' }, {}),
    monitor: { quotaBytes: 10_000_000_000, dataDir: registry.dataDir },
    workspaceRoot: process.cwd(),
    env: {},
    format: 'json',
    client,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const r = outcome.report;
  const tags = r.repositories.reduce((n, x) => n + x.tagCount, 0);
  const images = r.repositories.reduce((n, x) => n + x.images.length, 0);
  console.log(
    `monitor: ${r.repositories.length} repositories, ${tags} tags, ${images} distinct images, ${r.pushes.total} history events, ` +
      `${r.storage.uniqueBlobs} unique blobs — ${seconds.toFixed(2)} s, ${requests} HTTP requests (concurrency 16), status ${r.status}`,
  );
  console.log(seconds < 30 ? 'PASS: under 30 s' : 'FAIL: 30 s or more');
  process.exitCode = seconds < 30 && tags === REPOS.length * TAGS_PER_REPO ? 0 : 1;
} finally {
  await registry.stop();
}
