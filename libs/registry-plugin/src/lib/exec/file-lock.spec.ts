import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { withFileLock } from './file-lock';

/** The pid the lock file names. */
const pidIn = (text: string): number => (JSON.parse(text) as { pid: number }).pid;

describe('withFileLock: one holder at a time across processes', () => {
  let dir: string;
  let lock: string;
  const children: ChildProcess[] = [];
  /** Another process, alive until killed: what holds the lock in these tests. */
  const otherProcess = (): ChildProcess => {
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    children.push(child);
    return child;
  };
  const exited = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auren-file-lock-'));
    lock = join(dir, 'nested', 'work.lock');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  /** A process that has exited: its pid is free. */
  const deadPid = async (): Promise<number> => {
    const gone = otherProcess();
    gone.kill('SIGKILL');
    await exited(gone);
    return gone.pid!;
  };
  /** A lock file written `ageMs` ago. */
  const writeLock = async (text: string, ageMs = 0) => {
    await mkdir(join(dir, 'nested'), { recursive: true });
    await writeFile(lock, text);
    const then = new Date(Date.now() - ageMs);
    await utimes(lock, then, then);
  };

  it('holds the file with its holder (pid, host, what it is) while the body runs, and removes it after, also when the body fails', async () => {
    const seen = JSON.parse(await withFileLock(lock, { holder: 'a test' }, () => readFile(lock, 'utf8')));
    expect(seen).toMatchObject({ command: 'a test', pid: process.pid, host: hostname() });
    expect(existsSync(lock)).toBe(false);
    await expect(withFileLock(lock, { holder: 'a test' }, async () => { throw new Error('body failed'); })).rejects.toThrow('body failed');
    expect(existsSync(lock)).toBe(false);
  });

  it('waits while another live process holds it, says so once, and goes in once that process is gone', async () => {
    const holder = otherProcess();
    await mkdir(join(dir, 'nested'));
    await writeFile(lock, String(holder.pid));
    let entered = false;
    const told: string[] = [];
    const waiting = withFileLock(lock, { holder: 'a test', pollMs: 20, onWait: (who) => void told.push(who) }, async () => {
      entered = true;
      return readFile(lock, 'utf8');
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(entered).toBe(false);
    expect(await readFile(lock, 'utf8')).toBe(String(holder.pid));
    holder.kill('SIGKILL');
    await exited(holder);
    expect(pidIn(await waiting)).toBe(process.pid);
    expect(existsSync(lock)).toBe(false);
    // Told once whom it waited for, not at every look (a bare pid is what earlier versions wrote).
    expect(told).toEqual([`a test (pid ${holder.pid})`]);
  });

  it('takes over at once a lock whose process is gone (a killed holder)', async () => {
    const gone = otherProcess();
    gone.kill('SIGKILL');
    await exited(gone);
    await mkdir(join(dir, 'nested'));
    await writeFile(lock, String(gone.pid));
    expect(pidIn(await withFileLock(lock, { holder: 'a test', maxWaitMs: 0 }, () => readFile(lock, 'utf8')))).toBe(process.pid);
  });

  it('gives up on a live holder after maxWaitMs, naming the file, the pid and what should hold it, and leaves the holder\'s lock alone', async () => {
    const holder = otherProcess();
    await mkdir(join(dir, 'nested'));
    await writeFile(lock, String(holder.pid));
    let ran = false;
    const error = await withFileLock(lock, { holder: 'a buildah build', maxWaitMs: 50, pollMs: 10 }, async () => void (ran = true)).catch((e: Error) => e);
    expect(ran).toBe(false);
    expect(String(error)).toContain(`${lock} has been held by a buildah build (pid ${holder.pid})`);
    expect((error as { hint?: string }).hint).toContain('a buildah build');
    expect(await readFile(lock, 'utf8')).toBe(String(holder.pid));
  });
  it('waits for a holder it cannot check, never taking its lock over: another PID namespace (a container sharing the folder) or another host', async () => {
    const pid = await deadPid();
    for (const elsewhere of [{ host: hostname(), pidNamespace: 'pid:[1]' }, { host: `not-${hostname()}` }]) {
      // Written long ago: its pid is missing here, and the file is old; neither makes it stale.
      const text = JSON.stringify({ command: 'a buildah build', pid, startedAt: '2026-01-01T00:00:00.000Z', ...elsewhere });
      await writeLock(text, 120_000);
      let ran = false;
      const error = await withFileLock(lock, { holder: 'a buildah build', maxWaitMs: 50, pollMs: 10 }, async () => void (ran = true)).catch((e: Error) => e);
      expect(ran).toBe(false);
      expect(String(error)).toContain(`held by a buildah build (pid ${pid}${elsewhere.pidNamespace ? '' : ` on ${elsewhere.host}`}, started 2026-01-01`);
      expect(await readFile(lock, 'utf8')).toBe(text);
    }
  });

  it('takes over a holder known to be gone (this host and PID namespace, its pid free), and a lock left unwritten for 30 s, but not one being written', async () => {
    const pid = await deadPid();
    await writeLock(JSON.stringify({ command: 'a test', pid, host: hostname() }));
    expect(pidIn(await withFileLock(lock, { holder: 'a test', maxWaitMs: 0 }, () => readFile(lock, 'utf8')))).toBe(process.pid);
    await writeLock('', 31_000);
    expect(pidIn(await withFileLock(lock, { holder: 'a test', maxWaitMs: 0 }, () => readFile(lock, 'utf8')))).toBe(process.pid);
    await writeLock('{"command":"a te');
    const error = await withFileLock(lock, { holder: 'a test', maxWaitMs: 50, pollMs: 10 }, async () => 'ran').catch((e: Error) => e);
    expect(String(error)).toContain('held by a test still writing the lock');
  });

  it('processes that all find the same stale lock take it one at a time: none removes the lock another took over', async () => {
    await writeLock(String(await deadPid()));
    const go = join(dir, 'go');
    const log = join(dir, 'log');
    const script = `
      require(${JSON.stringify(resolve(__dirname, '../../../bin/register.js'))});
      const { withFileLock } = require(${JSON.stringify(resolve(__dirname, 'file-lock.ts'))});
      const { appendFileSync, existsSync } = require('node:fs');
      const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
      (async () => {
        // Loaded: start together, so that every one reads the stale lock before any takes it.
        appendFileSync(${JSON.stringify(log)}, 'ready\\n');
        while (!existsSync(${JSON.stringify(go)})) await pause(1);
        await withFileLock(${JSON.stringify(lock)}, { holder: 'a test', pollMs: 5 }, async () => {
          appendFileSync(${JSON.stringify(log)}, 'enter\\n');
          await pause(40);
          appendFileSync(${JSON.stringify(log)}, 'exit\\n');
        });
      })().catch((error) => { console.error(error); process.exit(1); });
    `;
    const racers = Array.from({ length: 8 }, () => {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      return child;
    });
    const readyCount = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((line) => line === 'ready').length;
    while ((await readyCount()) < racers.length) await new Promise((resolve) => setTimeout(resolve, 20));
    await writeFile(go, '');
    const codes = await Promise.all(racers.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)))));
    expect(codes).toEqual(racers.map(() => 0));
    const turns = (await readFile(log, 'utf8')).split('\n').filter((line) => line === 'enter' || line === 'exit');
    // Each holder left before the next came in: enter, exit, enter, exit, …
    expect(turns).toEqual(racers.flatMap(() => ['enter', 'exit']));
    expect(existsSync(lock)).toBe(false);
  }, 60_000);
});
