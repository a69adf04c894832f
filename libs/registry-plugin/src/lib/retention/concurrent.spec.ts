import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestRegistry } from '../../testing/registry-server.testing';
import { runCleanup } from './cleanup';
import { readJournal } from './journal';
import { registryStorage } from './storage';
import { pushTestImage, recordPushed, tagManifest } from './images.testing';

/**
 * Two cleanups at once once shared one undo journal: the second resumed into the first's
 * unfinished journal and their deletions interleaved in it. Now an --apply run holds a lock in
 * its journal folder for its whole length; a second one (here the shipped CLI, another process)
 * stops at once, naming the holder and the lock file, and changes nothing.
 */

const CLI = join(__dirname, '..', '..', '..', 'bin', 'auren-registry.js');
const OLD = '2024-01-15T00:00:00Z';

function cli(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', NX_DRY_RUN: '', AUREN_REGISTRY: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe.each<'api' | 'storage'>(['api', 'storage'])('two cleanups at once, deleting via %s', (via) => {
  const { registry, client } = useTestRegistry();
  let ws: string;
  beforeAll(() => {
    ws = mkdtempSync(join(tmpdir(), `auren-concurrent-${via}-`));
  });
  afterAll(() => rmSync(ws, { recursive: true, force: true }));

  it('the second stops at once, naming the first and the lock file; the first finishes with a journal of its own deletions only', async () => {
    const repo = `auren/concurrent-${via}`;
    const expired: string[] = [];
    for (let i = 0; i < 4; i++) {
      const image = await pushTestImage(client, repo, { created: OLD });
      await tagManifest(client, repo, `dev-branch-${i}`, image);
      await recordPushed(client, repo, image.digest, OLD);
      expired.push(image.digest);
    }
    const retention = { keepReleases: 1, keepPatterns: ['latest'], devMaxAgeDays: 30 };
    writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins: [{ plugin: '@auren/registry-plugin', options: { registry: registry.host, namespace: 'auren', retention } }] }));
    const journalDir = join(ws, '.auren', 'journal');
    const args = ['cleanup', '--repositories', repo, '--apply', '--json', '--concurrency', '1', ...(via === 'storage' ? ['--storage-dir', registry.dataDir] : ['--delete-via', 'api'])];

    let second: Awaited<ReturnType<typeof cli>> | undefined;
    let restore: Awaited<ReturnType<typeof cli>> | undefined;
    const first = await runCleanup(client, {
      repositories: [repo],
      policy: { ...retention, deleteUntagged: false },
      protections: new Map(),
      apply: true,
      concurrency: 1,
      journalDir,
      history: 'auren/auren-history',
      now: new Date(),
      storage: via === 'storage' ? registryStorage(registry.dataDir) : undefined,
      hooks: {
        // Mid-apply, with one image deleted, another cleanup and a restore start and end.
        afterDelete: async (_outcome, deleted) => {
          if (deleted !== 1 || second) return;
          second = await cli(ws, args);
          const journal = readdirSync(journalDir).find((n) => n.endsWith('.json'))!;
          restore = await cli(ws, ['restore', '--journal', join(journalDir, journal)]);
        },
      },
    });

    expect(second?.code).not.toBe(0);
    const lock = join(journalDir, 'cleanup.lock');
    expect(second!.stderr).toContain(`another cleanup (pid ${process.pid}, started `);
    expect(second!.stderr).toContain(`remove ${lock} if it is stale`);
    expect(restore?.code).not.toBe(0);
    expect(restore!.stderr).toContain(`another cleanup (pid ${process.pid}, started `);

    expect(first.outcomes.filter((o) => o.outcome === 'deleted').map((o) => o.digest).sort()).toEqual([...expired].sort());
    expect(readdirSync(journalDir).filter((n) => n.endsWith('.json'))).toEqual([first.journal!.slice(journalDir.length + 1)]);
    const { journal, progress } = readJournal(first.journal!);
    expect(journal.finishedAt).toBeDefined();
    expect(journal.entries.map((e) => e.digest).sort()).toEqual([...expired].sort());
    // One line per deletion of the first run: nothing of the second interleaved.
    const lines = readFileSync(`${first.journal}.progress`, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(expired.length);
    expect([...progress.values()].map((p) => p.state)).toEqual(expired.map(() => 'deleted'));
    expect(readdirSync(journalDir)).not.toContain('cleanup.lock');

    // With the first one done, the next run takes the lock and finds nothing more to delete.
    const third = await cli(ws, args);
    expect(third.code).toBe(0);
    expect(JSON.parse(third.stdout).outcomes).toEqual([]);
  });
});
