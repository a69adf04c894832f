import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy, type FaultProxy } from '../../testing/fault-proxy.testing';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { OCI_MANIFEST } from '../registry/media-types';
import type { CleanupResult } from './cleanup';
import { readJournal } from './journal';
import { tagsResolve } from './snapshot';
import { pushTestImage, recordPushed } from './images.testing';

/**
 * Acceptance: a cleanup killed mid-apply (SIGKILL of the shipped CLI, no chance to clean up),
 * run again, finishes the job and deletes nothing extra; the undo journal restores it all.
 * Once through the API (a proxy slows each DELETE so the kill lands mid-run) and once through
 * the registry's storage folder (hundreds of fast deletions).
 */

const CLI = join(__dirname, '..', '..', '..', 'bin', 'auren-registry.js');
const OLD = '2024-01-15T00:00:00Z';

let registry: TestRegistry;
let client: RegistryClient;
const stops: Array<() => Promise<unknown>> = [];
const dirs: string[] = [];

beforeAll(async () => {
  registry = await startTestRegistry();
  client = createRegistryClient({ registry: registry.host });
});
afterAll(async () => {
  for (const stop of stops) await stop();
  await registry?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function cli(cwd: string, args: string[]): { done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>; kill: () => void } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', NX_DRY_RUN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return {
    done: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))),
    kill: () => child.kill('SIGKILL'),
  };
}

const progressLines = (ws: string): number => {
  const dir = join(ws, '.auren', 'journal');
  if (!existsSync(dir)) return 0;
  const file = readdirSync(dir).find((n) => n.endsWith('.json.progress'));
  return file ? readFileSync(join(dir, file), 'utf8').split('\n').filter((l) => l.endsWith('}')).length : 0;
};

const tagMap = async (repo: string) => new Map((await tagsResolve(client, repo, { concurrency: 8 })).map((t) => [t.tag, t.digest]));

describe.each([
  { via: 'api', expired: 40, killAfter: 3 },
  { via: 'storage', expired: 600, killAfter: 20 },
])('a cleanup killed with SIGKILL mid-apply, deleting via $via', ({ via, expired, killAfter }) => {
  it('run again finishes the job and deletes nothing extra; the journal restores it all', async () => {
    const repo = `auren/kill-${via}`;
    // Expired branch images (one manifest each, sharing blobs), releases and fresh ones to keep.
    const base = JSON.parse((await pushTestImage(client, repo, { created: OLD })).body.toString()) as object;
    const fresh = await pushTestImage(client, repo, { created: new Date().toISOString() });
    const manifests = [
      ...Array.from({ length: expired }, (_, i) => ({ tag: `feature-${i}-${(0x1000000 + i).toString(16).slice(-7)}`, doc: { ...base, annotations: { n: `e${i}` } } })),
      ...['v1.0.0', 'v1.1.0', 'v1.2.0'].map((tag) => ({ tag, doc: { ...base, annotations: { n: tag } } })),
      ...Array.from({ length: 5 }, (_, i) => ({ tag: `main-${(0xa000000 + i).toString(16).slice(-7)}`, doc: { ...JSON.parse(fresh.body.toString()), annotations: { n: `f${i}` } } })),
    ];
    // The push history says when each was pushed: the expired ones long ago, the fresh ones now.
    await mapLimit(manifests, 16, async ({ tag, doc }) => {
      const { digest } = await client.manifestPut(repo, tag, Buffer.from(JSON.stringify(doc)), OCI_MANIFEST);
      await recordPushed(client, repo, digest, tag.startsWith('feature-') ? OLD : new Date(), [tag]);
    });
    await client.manifestPut(repo, 'latest', Buffer.from(JSON.stringify({ ...base, annotations: { n: 'v1.2.0' } })), OCI_MANIFEST);
    const before = await tagMap(repo);

    let target = registry.host;
    if (via === 'api') {
      const proxy: FaultProxy = await startFaultProxy({ target: registry.url, faults: [{ method: 'DELETE', times: Infinity, action: { kind: 'delay', ms: 150 } }] });
      stops.push(() => proxy.stop());
      target = proxy.host;
    }
    const ws = mkdtempSync(join(tmpdir(), `auren-kill-${via}-`));
    dirs.push(ws);
    const options = { registry: target, namespace: 'auren', retention: { keepReleases: 2, keepPatterns: ['latest'], devMaxAgeDays: 30 } };
    writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins: [{ plugin: '@auren/registry-plugin', options }] }));
    const args = ['cleanup', '--repositories', repo, '--json', '--concurrency', '2', ...(via === 'storage' ? ['--storage-dir', registry.dataDir] : ['--delete-via', 'api'])];

    const planned = JSON.parse((await cli(ws, args).done).stdout) as CleanupResult;
    const plannedDigests = planned.plans[0].deletions.map((d) => d.digest).sort();
    const plannedTags = planned.plans[0].tags.filter((t) => t.action === 'delete').map((t) => t.tag).sort();
    expect(plannedTags).toHaveLength(expired + 1); // every expired branch tag and the oldest release
    expect(await tagMap(repo)).toEqual(before);

    const first = cli(ws, [...args, '--apply']);
    let lines = 0;
    while ((lines = progressLines(ws)) < killAfter) await new Promise((resolve) => setTimeout(resolve, 2));
    first.kill();
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const deletedBeforeKill = progressLines(ws);
    expect(deletedBeforeKill).toBeGreaterThanOrEqual(lines);
    expect(deletedBeforeKill).toBeLessThan(plannedDigests.length); // it really was mid-apply

    const second = await cli(ws, [...args, '--apply']).done;
    expect(second.code).toBe(0);
    const result = JSON.parse(second.stdout) as CleanupResult;
    expect(result.resumedJournal).toBe(true);

    const after = await tagMap(repo);
    for (const [tag, digest] of before) {
      if (plannedTags.includes(tag)) expect(after.has(tag)).toBe(false);
      else expect(`${tag}@${after.get(tag)}`).toBe(`${tag}@${digest}`);
    }
    expect([...after.keys()].sort()).toEqual([...before.keys()].filter((t) => !plannedTags.includes(t)).sort());
    for (const digest of plannedDigests.slice(0, 50)) expect(await client.manifestHead(repo, digest)).toBe('not-found');

    const { journal, progress } = readJournal(result.journal!);
    expect(journal.finishedAt).toBeDefined();
    expect(journal.entries.map((e) => e.digest).sort()).toEqual(plannedDigests);
    expect([...progress.values()].filter((p) => p.state === 'deleted').map((p) => p.digest).sort()).toEqual(plannedDigests);
    expect(existsSync(join(registry.dataDir, 'auren-trash', 'lock'))).toBe(false);

    const restore = await cli(ws, ['restore', '--journal', result.journal!]).done;
    expect(restore.code).toBe(0);
    expect(await tagMap(repo)).toEqual(before);
  });
});
