import fc from 'fast-check';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestRegistry } from '../../testing/registry-server.testing';
import { applyPlan } from './apply';
import { runCleanup, type CleanupInput } from './cleanup';
import { JournalWriter, readJournal } from './journal';
import { planRepository, type RetentionPolicy } from './policy';
import { collectProtections, composeImages } from './protect';
import { restoreJournal } from './restore';
import { readRepository } from './snapshot';
import { registryStorage } from './storage';
import { pushHistoryReader } from '../history/push-times';
import { pushTestImage, pushMultiArch, recordPushed, tagManifest, type PushedManifest } from './images.testing';

const OLD = '2024-01-15T00:00:00Z';
const NOW = new Date();
const POLICY: RetentionPolicy = { keepReleases: 2, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: true };
const HISTORY = 'auren/auren-history';

const { registry, client } = useTestRegistry();
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'auren-cleanup-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Fixture {
  repo: string;
  digests: Record<string, string>;
  /** Tags the policy must delete, and digests that must disappear. */
  expectDeletedTags: string[];
  expectDeletedDigests: string[];
  children: { kept: string[]; deleted: string[] };
}

/**
 * One repository with every hard case: tags sharing digests, a multi-arch release whose amd64
 * child also carries an expired tag, an expired multi-arch dev image, a release protected by the
 * compose file, age from date tags and from the push history, and an untagged orphan.
 */
async function buildFixture(repo: string): Promise<Fixture> {
  const tag = (t: string, m: PushedManifest) => tagManifest(client, repo, t, m);
  const v090 = await pushTestImage(client, repo, { created: OLD });
  await tag('v0.9.0', v090);
  const a = await pushTestImage(client, repo, { created: OLD });
  for (const t of ['v1.0.0', 'main-aaaaaaa', '20240101-0000']) await tag(t, a);
  const b = await pushTestImage(client, repo, { created: OLD });
  for (const t of ['v1.1.0', '20240201-0000']) await tag(t, b);
  const c = await pushTestImage(client, repo, { created: OLD });
  for (const t of ['v1.2.0', 'main-ccccccc', '20240301-0000']) await tag(t, c);
  const release = await pushMultiArch(client, repo, OLD);
  for (const t of ['v1.3.0', 'latest']) await tag(t, release.index);
  await tag('main-1234567', release.children[0]); // expired on its own, but a platform of a kept index
  await recordPushed(client, repo, release.children[0].digest, OLD);
  const devIndex = await pushMultiArch(client, repo, OLD);
  for (const t of ['dev', '20240105-1200']) await tag(t, devIndex.index);
  const fresh = await pushTestImage(client, repo, { created: new Date().toISOString() });
  await tag('feature-x-ddddddd', fresh);
  await recordPushed(client, repo, fresh.digest, new Date());
  const stale = await pushTestImage(client, repo, { created: OLD });
  await tag('dev-feature-y', stale);
  await recordPushed(client, repo, stale.digest, OLD);
  const orphan = await pushTestImage(client, repo, { created: OLD });
  return {
    repo,
    digests: { v090: v090.digest, a: a.digest, b: b.digest, c: c.digest, release: release.index.digest, devIndex: devIndex.index.digest, fresh: fresh.digest, stale: stale.digest, orphan: orphan.digest },
    expectDeletedTags: ['v1.0.0', 'main-aaaaaaa', '20240101-0000', 'v1.1.0', '20240201-0000', 'dev', '20240105-1200', 'dev-feature-y'].sort(),
    expectDeletedDigests: [a.digest, b.digest, devIndex.index.digest, ...devIndex.children.map((x) => x.digest), stale.digest, orphan.digest].sort(),
    children: { kept: release.children.map((x) => x.digest), deleted: devIndex.children.map((x) => x.digest) },
  };
}

function protectionsFor(repo: string) {
  const compose = join(work, 'docker-compose.prod.yml');
  writeFileSync(compose, `services:\n  api:\n    image: \${REGISTRY:-${registry.host}/auren}/${repo.split('/')[1]}:\${VERSION:-v0.9.0}\n  db:\n    image: postgres:16\n`);
  return collectProtections({ registry: registry.host, compose: composeImages(work, 'docker-compose.prod.yml', {}), records: [], composeFile: 'docker-compose.prod.yml' });
}

async function tagMap(repo: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const t of await client.tagList(repo)) {
    const head = await client.manifestHead(repo, t);
    if (head !== 'not-found') out.set(t, head.digest);
  }
  return out;
}

type Via = 'api' | 'storage';

const input = (via: Via, repo: string, extra: Partial<CleanupInput> = {}): CleanupInput => ({
  repositories: [repo],
  policy: POLICY,
  protections: protectionsFor(repo),
  apply: false,
  concurrency: 4,
  journalDir: join(work, `journal-${repo.replace('/', '-')}`),
  history: HISTORY,
  now: NOW,
  lister: registryStorage(registry.dataDir),
  storage: via === 'storage' ? registryStorage(registry.dataDir) : undefined,
  ...extra,
});

// Both ways of deleting: DELETE requests, and links removed in the registry's storage folder.
describe.each<Via>(['api', 'storage'])('cleanup against a real registry, deleting via %s', (via) => {
  it('plans exactly what the policy says and changes nothing without --apply', async () => {
    const fx = await buildFixture(`auren/${via}-plan`);
    const before = await tagMap(fx.repo);
    const result = await runCleanup(client, input(via, fx.repo));
    const plan = result.plans[0];
    expect(plan.tags.filter((t) => t.action === 'delete').map((t) => t.tag).sort()).toEqual(fx.expectDeletedTags);
    expect(plan.deletions.map((d) => d.digest).sort()).toEqual(fx.expectDeletedDigests);
    expect(plan.tags.find((t) => t.tag === 'v0.9.0')).toMatchObject({ action: 'keep', rule: 'protected-reference' });
    expect(plan.tags.find((t) => t.tag === 'main-1234567')).toMatchObject({ action: 'keep', rule: 'child-of-kept-index' });
    expect(plan.tags.find((t) => t.tag === 'main-ccccccc')).toMatchObject({ action: 'keep', rule: 'sibling-kept' });
    expect(result.journal).toBeUndefined();
    expect(await tagMap(fx.repo)).toEqual(before);
  });

  it('a run killed mid-apply, run again, finishes the job, deletes nothing extra, and the journal restores it all', async () => {
    const fx = await buildFixture(`auren/${via}-apply`);
    const before = await tagMap(fx.repo);
    const bodies = new Map<string, Buffer>();
    for (const d of fx.expectDeletedDigests) bodies.set(d, ((await client.manifestGet(fx.repo, d)) as { body: Buffer }).body);

    await expect(
      runCleanup(client, input(via, fx.repo, { apply: true, hooks: { afterDelete: (_o, n) => { if (n >= 2) throw new Error('killed'); } } })),
    ).rejects.toThrow('killed');
    const second = await runCleanup(client, input(via, fx.repo, { apply: true }));
    expect(second.resumedJournal).toBe(true);

    const after = await tagMap(fx.repo);
    for (const [t, digest] of before) {
      if (fx.expectDeletedTags.includes(t)) expect(after.has(t)).toBe(false);
      else expect(`${t}@${after.get(t)}`).toBe(`${t}@${digest}`);
    }
    for (const child of fx.children.kept) expect(await client.manifestHead(fx.repo, child)).not.toBe('not-found');
    for (const d of fx.expectDeletedDigests) expect(await client.manifestHead(fx.repo, d)).toBe('not-found');
    expect(await client.manifestHead(fx.repo, fx.digests.fresh)).not.toBe('not-found');

    const { journal, progress } = readJournal(second.journal!);
    expect(journal.finishedAt).toBeDefined();
    expect(journal.entries.map((e) => e.digest).sort()).toEqual(fx.expectDeletedDigests);
    expect([...progress.values()].filter((p) => p.state === 'deleted').map((p) => p.digest).sort()).toEqual(fx.expectDeletedDigests);

    const restored = await restoreJournal(client, second.journal!, { concurrency: 4 });
    expect(restored.items.filter((i) => i.outcome === 'blobs-gone')).toEqual([]);
    expect(await tagMap(fx.repo)).toEqual(before);
    for (const [d, body] of bodies) {
      const got = await client.manifestGet(fx.repo, d);
      expect(got !== 'not-found' && got.body.equals(body)).toBe(true);
    }
  });

  it('skips an image whose tag moved after the plan, and keeps the children a new index reuses', async () => {
    const repo = `auren/${via}-moved`;
    const oldImg = await pushTestImage(client, repo, { created: OLD });
    await tagManifest(client, repo, 'dev-feature-z', oldImg);
    const devIndex = await pushMultiArch(client, repo, OLD, 'dev');
    for (const m of [oldImg, devIndex.index]) await recordPushed(client, repo, m.digest, OLD);
    const live = await readRepository(client, repo, { concurrency: 4, pushTimes: pushHistoryReader(client, HISTORY) });
    const plan = planRepository(live.snapshot, POLICY, NOW);
    expect(plan.deletions.map((d) => d.digest).sort()).toEqual([oldImg.digest, devIndex.index.digest, ...devIndex.index.children].sort());
    // Meanwhile a push moves dev-feature-z and tags a new index over the same platform manifests.
    const newer = await pushTestImage(client, repo, { created: new Date().toISOString() });
    await tagManifest(client, repo, 'dev-feature-z', newer);
    const reuse = Buffer.from(JSON.stringify({ ...JSON.parse(devIndex.index.body.toString()), annotations: { rebuilt: 'yes' } }));
    await client.manifestPut(repo, 'dev-2', reuse, devIndex.index.mediaType);

    const journal = new JournalWriter(join(work, `${via}-moved.json`), registry.host, NOW);
    const storage = via === 'storage' ? registryStorage(registry.dataDir) : undefined;
    await storage?.open();
    const outcomes = await applyPlan(client, plan, live, { concurrency: 4, journal, storage }).finally(() => storage?.close());
    expect(outcomes.filter((o) => o.outcome === 'deleted').map((o) => o.digest)).toEqual([devIndex.index.digest]);
    for (const child of devIndex.index.children) expect(await client.manifestHead(repo, child)).not.toBe('not-found');
    expect(await client.manifestHead(repo, oldImg.digest)).not.toBe('not-found');
  });

  it('property: on real registries, no kept tag ever disappears or moves', async () => {
    const images = await Promise.all(Array.from({ length: 4 }, (_, i) => pushTestImage(client, `auren/${via}-prop-src`, { created: i % 2 ? OLD : new Date().toISOString() })));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.constantFrom('v1.0.0', 'v1.1.0', 'v2.0.0', 'latest', 'dev', 'main-abcdef1', 'dev-x', '20240101-0000', 'nightly'), fc.nat(3)), { minLength: 1, maxLength: 9, selector: ([t]) => t }),
        fc.record({ keepReleases: fc.nat(3), keepPatterns: fc.subarray(['latest', 'dev*']), devMaxAgeDays: fc.constantFrom(0, 30, 10_000), deleteUntagged: fc.boolean() }),
        async (tags, policy) => {
          const repo = `auren/${via}-prop-${run++}`;
          for (const img of images) for (const blob of img.blobs) await client.blobMount(repo, `auren/${via}-prop-src`, blob);
          for (const [t, i] of tags) await tagManifest(client, repo, t, images[i]);
          const result = await runCleanup(client, { ...input(via, repo), protections: new Map(), policy, apply: true, journalDir: join(work, `${via}-prop-${run}`) });
          const after = await tagMap(repo);
          for (const t of result.plans[0].tags) {
            if (t.action === 'keep') expect(`${t.tag}@${after.get(t.tag)}`).toBe(`${t.tag}@${t.digest}`);
            else expect(after.has(t.tag)).toBe(false);
          }
        },
      ),
      { numRuns: 4 },
    );
    expect(readdirSync(work).length).toBeGreaterThan(0);
  });
});
