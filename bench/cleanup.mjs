#!/usr/bin/env node
// Cleanup bench: a repository of 5,000 tags on a throw-away local registry; our plan + apply vs a
// sequential `skopeo delete` loop over the same deletions (the tags recreated in between).
// Ours deletes the way `registry:cleanup` does on the embedded registry: in its storage folder
// (--via storage, the default), or with DELETE requests like on any other registry (--via api).
// `--registry distribution3` runs distribution 3 (tools/.bin/registry), which deletes tags by name:
// through its API our cleanup sends one O(1) DELETE per tag instead of an O(tags) DELETE by digest.
//   node bench/cleanup.mjs [--tags 5000] [--concurrency 8] [--via storage|api] [--registry distribution2|distribution3] [--no-skopeo]
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
require('../libs/registry-plugin/bin/register.js');
const src = '../libs/registry-plugin/src';
const { startTestRegistry } = require(`${src}/testing/registry-server.testing.ts`);
const { createRegistryClient } = require(`${src}/lib/registry/client.ts`);
const { mapLimit } = require(`${src}/lib/registry/concurrency.ts`);
const { runCleanup } = require(`${src}/lib/retention/cleanup.ts`);
const { registryStorage } = require(`${src}/lib/retention/storage.ts`);
const { restoreJournal } = require(`${src}/lib/retention/restore.ts`);
const { pushTestImage, recordPushed } = require(`${src}/lib/retention/images.testing.ts`);
const { OCI_MANIFEST } = require(`${src}/lib/registry/media-types.ts`);

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const TAGS = arg('tags', 5000);
const CONCURRENCY = arg('concurrency', 8);
const viaAt = process.argv.indexOf('--via');
const VIA = viaAt === -1 ? 'storage' : process.argv[viaAt + 1];
if (!['storage', 'api'].includes(VIA)) throw new Error(`--via storage|api, got ${VIA}`);
const flavorAt = process.argv.indexOf('--registry');
const FLAVOR = flavorAt === -1 ? 'distribution2' : process.argv[flavorAt + 1];
if (!['distribution2', 'distribution3'].includes(FLAVOR)) throw new Error(`--registry distribution2|distribution3, got ${FLAVOR}`);
if (FLAVOR === 'distribution3' && VIA === 'storage') throw new Error('--registry distribution3 needs --via api (the storage path is for the embedded distribution 2.8)');
const SKOPEO = !process.argv.includes('--no-skopeo');
const REPO = 'auren/bench';
const seconds = (ms) => (ms / 1000).toFixed(1);

const registry = await startTestRegistry({ flavor: FLAVOR });
const work = mkdtempSync(join(tmpdir(), 'auren-bench-'));
try {
  const client = createRegistryClient({ registry: registry.host });
  // Two images share all blobs; every tag gets its own manifest (an annotation makes it unique), so
  // each tag is one manifest PUT and each deletion one digest. Half the images are a year old.
  const old = await pushTestImage(client, REPO, { created: new Date(Date.now() - 365 * 86400_000).toISOString() });
  const fresh = await pushTestImage(client, REPO, { created: new Date().toISOString() });
  const tags = [];
  for (let i = 0; i < TAGS; i++) {
    const release = i % 25 === 0;
    const base = JSON.parse((release || i % 2 ? old : fresh).body.toString());
    const body = Buffer.from(JSON.stringify({ ...base, annotations: { 'bench.index': String(i) } }));
    tags.push({ tag: release ? `v1.${i / 25}.0` : `feat-${i}-${(0x1000000 + i).toString(16).slice(-7)}`, body });
  }
  let t = Date.now();
  await mapLimit(tags, 16, ({ tag, body }) => client.manifestPut(REPO, tag, body, OCI_MANIFEST));
  console.log(`created ${TAGS} tags in ${seconds(Date.now() - t)} s`);
  // Retention ages dev and branch images by their push in the push history, as the pipeline
  // records it; half of the branch images were pushed a year ago.
  t = Date.now();
  const yearAgo = new Date(Date.now() - 365 * 86400_000);
  await mapLimit(tags, 16, async ({ tag, body }, i) => {
    if (!tag.startsWith('feat-')) return;
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    await recordPushed(client, REPO, digest, i % 2 ? yearAgo : new Date(), [tag]);
  });
  console.log(`recorded their pushes in the push history in ${seconds(Date.now() - t)} s`);

  const policy = { keepReleases: 10, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: false };
  const storage = VIA === 'storage' ? registryStorage(registry.dataDir) : undefined;
  const base = { repositories: [REPO], history: 'auren/auren-history', policy, protections: new Map(), concurrency: CONCURRENCY, now: new Date(), storage };
  t = Date.now();
  const plan = await runCleanup(client, { ...base, apply: false, journalDir: join(work, 'j') });
  const planMs = Date.now() - t;
  const deletions = plan.plans[0].deletions;
  t = Date.now();
  const applied = await runCleanup(client, { ...base, apply: true, journalDir: join(work, 'j') });
  const applyMs = Date.now() - t;
  const ours = planMs + applyMs;
  const deleted = applied.outcomes.filter((o) => o.outcome === 'deleted').length;
  console.log(`ours on ${FLAVOR}: plan ${seconds(planMs)} s + apply ${seconds(applyMs)} s (via ${VIA}: plan re-read, journal, re-check, ${deleted} deletions, concurrency ${CONCURRENCY}) = ${seconds(ours)} s`);

  t = Date.now();
  const restored = await restoreJournal(client, applied.journal, { concurrency: 16 });
  console.log(`restored ${restored.items.filter((i) => i.outcome === 'restored').length} manifests+tags from the journal in ${seconds(Date.now() - t)} s`);

  if (!SKOPEO) {
    console.log(`\nresult: ours ${seconds(ours)} s on ${FLAVOR} (target: < 60 s)`);
  } else {
    t = Date.now();
    for (const d of deletions) {
      execFileSync('skopeo', ['delete', '--tls-verify=false', `docker://${registry.host}/${REPO}@${d.digest}`], { stdio: 'ignore' });
    }
    const skopeoMs = Date.now() - t;
    console.log(`skopeo delete loop: ${deletions.length} deletions in ${seconds(skopeoMs)} s (no plan, no journal, no re-check)`);
    console.log(`\nresult: ours ${seconds(ours)} s vs skopeo ${seconds(skopeoMs)} s → ${(skopeoMs / ours).toFixed(1)}× faster (target: < 60 s and ≥ 5×)`);
  }
} finally {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}
