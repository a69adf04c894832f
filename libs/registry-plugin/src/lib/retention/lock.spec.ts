import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AurenError } from '../errors/errors';
import { lockAcquire } from './lock';

describe('the upkeep lock', () => {
  let dir: string;
  let n = 0;
  const lockPath = () => join(dir, `l${n++}`, 'cleanup.lock');
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'auren-lock-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The pid of a process that has exited (a real one, so the number is not in use). */
  const deadPid = async () => {
    const child = spawn('true');
    await new Promise((resolve) => child.once('exit', resolve));
    return child.pid!;
  };

  it('lets one holder at a time in, even in one process, and names the holder and the file', () => {
    const path = lockPath();
    const held = lockAcquire(path, 'cleanup');
    const holder = JSON.parse(readFileSync(path, 'utf8'));
    expect(holder).toMatchObject({ command: 'cleanup', pid: process.pid, host: hostname() });
    let error: unknown;
    try {
      lockAcquire(path, 'restore');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).message).toBe(`another cleanup (pid ${process.pid}, started ${holder.startedAt}) is running; wait for it, or remove ${path} if it is stale`);
    held.release();
    expect(existsSync(path)).toBe(false);
    lockAcquire(path, 'restore').release();
  });

  it('takes over the lock of a process that is gone, and says so', async () => {
    const path = lockPath();
    const first = lockAcquire(path, 'cleanup');
    const pid = await deadPid();
    writeFileSync(path, readFileSync(path, 'utf8').replace(`"pid":${process.pid}`, `"pid":${pid}`));
    const lines: string[] = [];
    const second = lockAcquire(path, 'cleanup', (l) => lines.push(l));
    expect(lines).toEqual([expect.stringContaining(`taking over the lock of cleanup (pid ${pid}`)]);
    first.release(); // not its lock any more: leaves it alone
    expect(existsSync(path)).toBe(true);
    second.release();
    expect(existsSync(path)).toBe(false);
  });

  it('takes over a lock whose pid now belongs to another process (pid reused after a crash)', () => {
    const path = lockPath();
    lockAcquire(path, 'cleanup');
    // This very process, but "started" at another tick: the holder that had this pid is gone.
    writeFileSync(path, readFileSync(path, 'utf8').replace(/"processStart":"\d+"/, '"processStart":"1"'));
    expect(() => lockAcquire(path, 'cleanup').release()).not.toThrow();
  });

  it('never takes over a lock held on another host: it cannot tell whether that one runs', () => {
    const path = lockPath();
    mkdirSync(dirname(path));
    writeFileSync(path, JSON.stringify({ command: 'cleanup', pid: 1, host: 'ci-runner-7', startedAt: '2025-06-01T02:00:00.000Z' }));
    expect(() => lockAcquire(path, 'cleanup')).toThrow(`another cleanup (pid 1 on ci-runner-7, started 2025-06-01T02:00:00.000Z) is running; wait for it, or remove ${path} if it is stale`);
  });

  it('waits out an unreadable lock being written, and removes one left long ago', () => {
    const path = lockPath();
    lockAcquire(path, 'cleanup').release();
    writeFileSync(path, '{"pi');
    expect(() => lockAcquire(path, 'cleanup')).toThrow(/another upkeep run is taking the lock/);
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(path, old, old);
    lockAcquire(path, 'cleanup').release();
  });
});
