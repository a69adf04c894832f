import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AurenError } from '../errors/errors';
import { inTurn } from '../registry/concurrency';

export interface FileLockOptions {
  /** What holds the lock, for the error after `maxWaitMs` (e.g. "a trivy scan"). */
  holder: string;
  /** How long to wait for a live holder before giving up; default 30 minutes. */
  maxWaitMs?: number;
  /** How often a held lock is looked at again; default 200 ms. */
  pollMs?: number;
  /** Told once, when the lock is found held by another live process, before waiting for it. */
  onWait?: (holder: number) => void;
}

const MINUTE = 60_000;

/** Holders in this process, by the lock file's absolute path. */
const processTurn = inTurn();

/**
 * One holder at a time across processes: `lockFile` is created exclusively (`wx`) with the
 * holder's pid in it, and removed when `body` settles. A lock whose pid is gone (a killed
 * process) is taken over, and so is one left empty for 30 s (a crash between create and write).
 * Holders in one process (a batch's tasks) queue in the process first, in the order they asked,
 * so each takes the file as the previous one lets it go, not at its next look.
 */
export function withFileLock<T>(lockFile: string, options: FileLockOptions, body: () => Promise<T>): Promise<T> {
  return processTurn(resolve(lockFile), () => holdFile(lockFile, options, body));
}

async function holdFile<T>(lockFile: string, options: FileLockOptions, body: () => Promise<T>): Promise<T> {
  const maxWaitMs = options.maxWaitMs ?? 30 * MINUTE;
  const pollMs = options.pollMs ?? 200;
  await mkdir(dirname(lockFile), { recursive: true });
  const started = Date.now();
  let waited = false;
  for (;;) {
    try {
      await writeFile(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (!(await holderAlive(lockFile, holder))) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (!waited) options.onWait?.(holder);
      waited = true;
      if (Date.now() - started > maxWaitMs) {
        throw new AurenError('exec', `${lockFile} has been held by process ${holder} for over ${Math.round(maxWaitMs / MINUTE)} minutes`, `Remove the file if that process is not ${options.holder}.`);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
  try {
    return await body();
  } finally {
    await rm(lockFile, { force: true });
  }
}

async function holderAlive(lockFile: string, holder: number): Promise<boolean> {
  if (holder > 0) {
    try {
      process.kill(holder, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  // Created but its pid not written yet, unless it has stayed empty for long.
  const age = Date.now() - ((await stat(lockFile).catch(() => undefined))?.mtimeMs ?? Date.now());
  return age < 30_000;
}
