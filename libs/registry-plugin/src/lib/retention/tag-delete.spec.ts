// @auren-test-tools registry (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * Cleanup through the API of a registry that deletes tags by name (real distribution 3), and the
 * same plan against distribution 2.8, which refuses that and gets DELETE by digest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type RegistryFlavor, type TestRegistry } from '../../testing/registry-server.testing';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import { runCleanup } from './cleanup';
import type { RetentionPolicy } from './policy';
import { restoreJournal } from './restore';
import { pushTestImage, pushMultiArch, recordPushed, tagManifest } from './images.testing';

const OLD = '2024-01-15T00:00:00Z';
const POLICY: RetentionPolicy = { keepReleases: 1, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: true };

describe.each<RegistryFlavor>(['distribution3', 'distribution2'])('cleanup via the API of %s', (flavor) => {
  let registry: TestRegistry;
  let client: RegistryClient;
  let work: string;
  beforeAll(async () => {
    registry = await startTestRegistry({ flavor });
    client = createRegistryClient({ registry: registry.host });
    work = mkdtempSync(join(tmpdir(), 'auren-tagdel-'));
  });
  afterAll(async () => {
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const tags = async (repo: string) => {
    const out: Record<string, string> = {};
    for (const t of await client.tagList(repo)) {
      const head = await client.manifestHead(repo, t);
      if (head !== 'not-found') out[t] = head.digest;
    }
    return out;
  };

  it('deletes exactly the planned tags, keeps every other tag where it was, and restores', async () => {
    const repo = 'auren/api';
    const old1 = await pushTestImage(client, repo, { created: OLD });
    for (const t of ['v1.0.0', 'main-aaaaaaa']) await tagManifest(client, repo, t, old1);
    const old2 = await pushTestImage(client, repo, { created: OLD });
    await tagManifest(client, repo, 'dev-feature-y', old2);
    const devIndex = await pushMultiArch(client, repo, OLD);
    await tagManifest(client, repo, 'dev', devIndex.index);
    for (const m of [old1, old2, devIndex.index]) await recordPushed(client, repo, m.digest, OLD);
    const release = await pushTestImage(client, repo, { created: OLD });
    for (const t of ['v1.1.0', 'latest']) await tagManifest(client, repo, t, release);
    const before = await tags(repo);

    const result = await runCleanup(client, {
      repositories: [repo], policy: POLICY, protections: new Map(), apply: true, concurrency: 4,
      journalDir: join(work, 'journal'), history: 'auren/auren-history', now: new Date(),
    });
    const deletedTags = ['v1.0.0', 'main-aaaaaaa', 'dev-feature-y', 'dev'];
    const after = await tags(repo);
    expect(after).toEqual(Object.fromEntries(Object.entries(before).filter(([t]) => !deletedTags.includes(t))));
    expect(after.latest).toBe(release.digest);

    const outcomes = result.outcomes;
    const viaTags = outcomes.filter((o) => o.reason?.startsWith('tags deleted by name'));
    if (flavor === 'distribution3') {
      // Tags went by name; the untagged manifests (the index's platforms too) wait for garbage collection.
      expect(viaTags.map((o) => o.digest).sort()).toEqual([old1.digest, old2.digest, devIndex.index.digest, ...devIndex.children.map((c) => c.digest)].sort());
      expect(await client.manifestHead(repo, old1.digest)).not.toBe('not-found');
    } else {
      expect(viaTags).toEqual([]);
      for (const d of [old1.digest, old2.digest, devIndex.index.digest, ...devIndex.children.map((c) => c.digest)]) expect(await client.manifestHead(repo, d)).toBe('not-found');
    }

    await restoreJournal(client, result.journal!, { concurrency: 4 });
    expect(await tags(repo)).toEqual(before);
  });
});
