import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withFileLock } from './file-lock';

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

  it('holds the file with its pid while the body runs, and removes it after, also when the body fails', async () => {
    const seen = await withFileLock(lock, { holder: 'a test' }, () => readFile(lock, 'utf8'));
    expect(seen).toBe(String(process.pid));
    expect(existsSync(lock)).toBe(false);
    await expect(withFileLock(lock, { holder: 'a test' }, async () => { throw new Error('body failed'); })).rejects.toThrow('body failed');
    expect(existsSync(lock)).toBe(false);
  });

  it('waits while another live process holds it, says so once, and goes in once that process is gone', async () => {
    const holder = otherProcess();
    await mkdir(join(dir, 'nested'));
    await writeFile(lock, String(holder.pid));
    let entered = false;
    const told: number[] = [];
    const waiting = withFileLock(lock, { holder: 'a test', pollMs: 20, onWait: (pid) => void told.push(pid) }, async () => {
      entered = true;
      return readFile(lock, 'utf8');
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(entered).toBe(false);
    expect(await readFile(lock, 'utf8')).toBe(String(holder.pid));
    holder.kill('SIGKILL');
    await exited(holder);
    expect(await waiting).toBe(String(process.pid));
    expect(existsSync(lock)).toBe(false);
    // Told once whom it waited for, not at every look.
    expect(told).toEqual([holder.pid]);
  });

  it('takes over at once a lock whose process is gone (a killed holder)', async () => {
    const gone = otherProcess();
    gone.kill('SIGKILL');
    await exited(gone);
    await mkdir(join(dir, 'nested'));
    await writeFile(lock, String(gone.pid));
    expect(await withFileLock(lock, { holder: 'a test', maxWaitMs: 0 }, () => readFile(lock, 'utf8'))).toBe(String(process.pid));
  });

  it('gives up on a live holder after maxWaitMs, naming the file, the pid and what should hold it, and leaves the holder\'s lock alone', async () => {
    const holder = otherProcess();
    await mkdir(join(dir, 'nested'));
    await writeFile(lock, String(holder.pid));
    let ran = false;
    const error = await withFileLock(lock, { holder: 'a buildah build', maxWaitMs: 50, pollMs: 10 }, async () => void (ran = true)).catch((e: Error) => e);
    expect(ran).toBe(false);
    expect(String(error)).toContain(`${lock} has been held by process ${holder.pid}`);
    expect((error as { hint?: string }).hint).toContain('a buildah build');
    expect(await readFile(lock, 'utf8')).toBe(String(holder.pid));
  });
});
