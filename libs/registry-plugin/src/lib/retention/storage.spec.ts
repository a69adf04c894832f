import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startTestRegistry, useTestRegistry } from '../../testing/registry-server.testing';
import { AurenError } from '../errors/errors';
import { createRegistryClient } from '../registry/client';
import { runCleanup } from './cleanup';
import { tagsResolve } from './snapshot';
import { registryStorage, type RegistryStorage } from './storage';
import { pushTestImage, pushMultiArch, recordPushed, tagManifest, type PushedManifest } from './images.testing';
import { testRegistryControl } from './local-control.testing';

const { registry, client } = useTestRegistry();
let storage: RegistryStorage;

beforeAll(() => {
  storage = registryStorage(registry.dataDir);
});
afterEach(() => storage.close());

const repoRoot = (repo: string) => join(registry.dataDir, 'docker', 'registry', 'v2', 'repositories', repo);
const trashOf = (repo: string, tag: string) => join(registry.dataDir, 'auren-trash', 'tags', encodeURIComponent(repo), tag);

/** Every file under a repository's _manifests, relative: what a DELETE changes. */
function manifestTree(repo: string): string[] {
  const root = join(repoRoot(repo), '_manifests');
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(root, path));
    }
  };
  walk(root);
  return out.sort();
}

/** The same images and tags in a repository: tags sharing a digest, a multi-arch index. */
async function sameContent(repo: string): Promise<{ shared: PushedManifest; index: PushedManifest; other: PushedManifest }> {
  const shared = await pushTestImage(client, repo, { annotations: { n: 'shared' } });
  for (const t of ['v1.0.0', 'main-aaaaaaa', '20240101-0000']) await tagManifest(client, repo, t, shared);
  const multi = await pushMultiArch(client, repo, '2024-01-01T00:00:00Z', 'dev');
  const other = await pushTestImage(client, repo, { annotations: { n: 'other' } });
  await tagManifest(client, repo, 'latest', other);
  return { shared, index: multi.index, other };
}

describe('registryStorage against a real registry', () => {
  it('removes exactly what distribution\'s own DELETE removes', async () => {
    // Same bytes in both repositories: the blobs are random per push, so copy the manifests over.
    const viaApi = await sameContent('auren/st-api');
    for (const m of [viaApi.shared, viaApi.other]) for (const b of m.blobs) await client.blobMount('auren/st-fs', 'auren/st-api', b);
    const indexDoc = JSON.parse(viaApi.index.body.toString()) as { manifests: Array<{ digest: string }> };
    for (const child of indexDoc.manifests) {
      const got = await client.manifestGet('auren/st-api', child.digest);
      if (got === 'not-found') throw new Error('child missing');
      const doc = JSON.parse(got.body.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
      for (const b of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) await client.blobMount('auren/st-fs', 'auren/st-api', b);
      await client.manifestPut('auren/st-fs', child.digest, got.body, got.mediaType);
    }
    for (const [tag, m] of [['v1.0.0', viaApi.shared], ['main-aaaaaaa', viaApi.shared], ['20240101-0000', viaApi.shared], ['dev', viaApi.index], ['latest', viaApi.other]] as const) {
      await client.manifestPut('auren/st-fs', tag, m.body, m.mediaType);
    }
    expect(manifestTree('auren/st-fs')).toEqual(manifestTree('auren/st-api'));

    await storage.open();
    for (const { digest, tags } of [
      { digest: viaApi.shared.digest, tags: ['v1.0.0', 'main-aaaaaaa', '20240101-0000'] },
      { digest: viaApi.index.digest, tags: ['dev'] },
    ]) {
      expect(await client.manifestDelete('auren/st-api', digest)).toBe('deleted');
      expect(await storage.imageDelete('auren/st-fs', digest, tags)).toEqual({ outcome: 'deleted' });
    }
    expect(manifestTree('auren/st-fs')).toEqual(manifestTree('auren/st-api'));
    // And the registry serves the result the same way.
    for (const ref of [viaApi.shared.digest, viaApi.index.digest, 'v1.0.0', 'dev']) expect(await client.manifestHead('auren/st-fs', ref)).toBe('not-found');
    expect(await client.manifestHead('auren/st-fs', 'latest')).toMatchObject({ digest: viaApi.other.digest });
    expect(await client.tagList('auren/st-fs')).toEqual(await client.tagList('auren/st-api'));
    expect(await storage.imageDelete('auren/st-fs', viaApi.shared.digest, [])).toEqual({ outcome: 'already-gone' });
  });

  it('reads the tags the API serves, and tags naming a deleted manifest only when asked', async () => {
    const repo = 'auren/st-read';
    const { shared, other } = await sameContent(repo);
    await storage.open();
    // A tag left naming a removed manifest: the API answers "manifest unknown" for it.
    await tagManifest(client, repo, 'orphan-tag', shared);
    await storage.imageDelete(repo, shared.digest, ['v1.0.0', 'main-aaaaaaa', '20240101-0000']);
    const byTag = (a: { tag: string }, b: { tag: string }) => a.tag.localeCompare(b.tag);
    const api = (await tagsResolve(client, repo, { concurrency: 4 })).sort(byTag);
    expect(await storage.tagsRead(repo)).toEqual(api);
    expect(api.map((t) => t.tag)).toEqual(['dev', 'latest']);
    expect(await storage.tagsRead(repo, { dangling: true })).toContainEqual({ tag: 'orphan-tag', digest: shared.digest });
    expect(await storage.tagsRead('auren/st-never-pushed')).toEqual([]);
    // Manifest bytes and media type exactly as the API serves them, for an image and an index.
    const dev = api.find((t) => t.tag === 'dev')!.digest;
    for (const digest of [other.digest, dev]) {
      const viaApi = await client.manifestGet(repo, digest);
      expect(await storage.manifestRead(repo, digest)).toEqual(viaApi !== 'not-found' && { mediaType: viaApi.mediaType, body: viaApi.body });
    }
    expect(await storage.manifestRead(repo, shared.digest)).toBe('not-found');
  });

  it('puts every tag back and removes nothing when one of them names another image now', async () => {
    const repo = 'auren/st-moved';
    const a = await pushTestImage(client, repo);
    const b = await pushTestImage(client, repo);
    await tagManifest(client, repo, 'main-1111111', a);
    await tagManifest(client, repo, 'dev-x', b); // the plan thought dev-x named a
    await storage.open();
    expect(await storage.imageDelete(repo, a.digest, ['main-1111111', 'dev-x'])).toEqual({ outcome: 'moved', tag: 'dev-x', digest: b.digest });
    expect(await client.manifestHead(repo, 'main-1111111')).toMatchObject({ digest: a.digest });
    expect(await client.manifestHead(repo, 'dev-x')).toMatchObject({ digest: b.digest });
    expect(await client.manifestHead(repo, a.digest)).not.toBe('not-found');
    expect(storage.pendingRecovery()).toBe(0);
  });

  it('recovers what a run killed mid-image left: tags put back, or dropped with their deleted manifest', async () => {
    const repo = 'auren/st-recover';
    const kept = await pushTestImage(client, repo);
    await tagManifest(client, repo, 'dev-kept', kept);
    const gone = await pushTestImage(client, repo);
    await tagManifest(client, repo, 'dev-gone', gone);
    // The two states a kill can leave (storage.ts): tag set aside before, or after, the manifest's link went.
    mkdirSync(join(registry.dataDir, 'auren-trash', 'tags', encodeURIComponent(repo)), { recursive: true });
    renameSync(join(repoRoot(repo), '_manifests', 'tags', 'dev-kept'), trashOf(repo, 'dev-kept'));
    renameSync(join(repoRoot(repo), '_manifests', 'tags', 'dev-gone'), trashOf(repo, 'dev-gone'));
    unlinkSync(join(repoRoot(repo), '_manifests', 'revisions', 'sha256', gone.digest.slice(7), 'link'));
    expect(storage.pendingRecovery()).toBe(2);

    const lines: string[] = [];
    expect(await storage.open((l) => lines.push(l))).toEqual({ recovered: 1 });
    expect(lines).toEqual([`put back ${repo}:dev-kept, set aside by an interrupted cleanup`]);
    expect(await client.manifestHead(repo, 'dev-kept')).toMatchObject({ digest: kept.digest });
    expect(await client.manifestHead(repo, 'dev-gone')).toBe('not-found');
    expect(existsSync(join(repoRoot(repo), '_manifests', 'tags', 'dev-gone'))).toBe(false);
    expect(storage.pendingRecovery()).toBe(0);
  });

  it('lets one cleanup at a time delete, and takes over the lock of a dead one', async () => {
    const lock = join(registry.dataDir, 'auren-trash', 'lock');
    mkdirSync(join(registry.dataDir, 'auren-trash'), { recursive: true });
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(lock, String(other.pid));
      const error = await storage.open().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AurenError);
      expect(String(error)).toContain(`another cleanup (pid ${other.pid})`);
      await expect(storage.imageDelete('auren/x', `sha256:${'0'.repeat(64)}`, [])).rejects.toThrow('before open()');
    } finally {
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
    }
    await storage.open(); // its holder is dead now
    await storage.close();
    expect(existsSync(lock)).toBe(false);
  });

  it('deletes nothing while the registry would refuse a DELETE (read-only for garbage collection)', async () => {
    const own = await startTestRegistry();
    const control = testRegistryControl(own);
    try {
      const ownClient = createRegistryClient({ registry: own.host });
      const img = await pushTestImage(ownClient, 'auren/st-ro', { created: '2024-01-01T00:00:00Z' });
      await tagManifest(ownClient, 'auren/st-ro', 'dev-old', img);
      await recordPushed(ownClient, 'auren/st-ro', img.digest, '2024-01-01T00:00:00Z');
      await control.startReadOnly();
      const run = runCleanup(ownClient, {
        repositories: ['auren/st-ro'],
        policy: { keepReleases: 1, keepPatterns: [], devMaxAgeDays: 1, deleteUntagged: false },
        protections: new Map(),
        apply: true,
        concurrency: 2,
        journalDir: join(own.dataDir, '..', 'journal'),
        history: 'auren/auren-history',
        now: new Date(),
        storage: registryStorage(own.dataDir),
      });
      await expect(run).rejects.toThrow(/does not accept deletes now .*nothing was deleted/);
      await control.startNormal();
      expect(await ownClient.manifestHead('auren/st-ro', 'dev-old')).toMatchObject({ digest: img.digest });
    } finally {
      await control.dispose();
    }
  });

  it('is seen at once by a registry that caches blob descriptors in memory', async () => {
    const cached = await startTestRegistry({ storageExtra: 'cache:\n  blobdescriptor: inmemory' });
    try {
      expect(readFileSync(cached.configPath, 'utf8')).toMatch(/^storage:\n(?:  .*\n)*  cache:\n    blobdescriptor: inmemory$/m);
      const cachedClient = createRegistryClient({ registry: cached.host });
      const img = await pushTestImage(cachedClient, 'auren/st-cache', { created: '2024-01-01T00:00:00Z' });
      await tagManifest(cachedClient, 'auren/st-cache', 'dev-old', img);
      await recordPushed(cachedClient, 'auren/st-cache', img.digest, '2024-01-01T00:00:00Z');
      expect(await cachedClient.manifestHead('auren/st-cache', img.digest)).not.toBe('not-found'); // now in the cache
      const result = await runCleanup(cachedClient, {
        repositories: ['auren/st-cache'],
        policy: { keepReleases: 1, keepPatterns: [], devMaxAgeDays: 1, deleteUntagged: false },
        protections: new Map(),
        apply: true,
        concurrency: 2,
        journalDir: join(cached.dataDir, '..', 'journal'),
        history: 'auren/auren-history',
        now: new Date(),
        storage: registryStorage(cached.dataDir),
      });
      expect(result.outcomes.map((o) => o.outcome)).toEqual(['deleted']);
      // distribution checks the repository's revision link before it trusts the cache.
      expect(await cachedClient.manifestHead('auren/st-cache', 'dev-old')).toBe('not-found');
      expect(await cachedClient.manifestHead('auren/st-cache', img.digest)).toBe('not-found');
      expect(await cachedClient.manifestGet('auren/st-cache', img.digest)).toBe('not-found');
    } finally {
      await cached.stop();
    }
  });

  it('refuses a folder that is not a registry\'s storage, saying what to pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'auren-not-storage-'));
    try {
      const wrong = registryStorage(dir);
      await expect(wrong.tagsRead('auren/x')).rejects.toThrow(/not the storage folder of a distribution registry/);
      await expect(wrong.open()).rejects.toMatchObject({ hint: expect.stringContaining('storage.filesystem.rootdirectory') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
