import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AurenError } from '../errors/errors';
import { inTurn } from '../registry/concurrency';
import {
  breakStale, describeHolder, isStale, olderThan, parseHolder, readLockText, releaseLock, thisHolder, tryCreateLock,
} from './lock-holder';

export interface FileLockOptions {
  /** What holds the lock, for the error after `maxWaitMs` (e.g. "a trivy scan"). */
  holder: string;
  /** How long to wait for a live holder before giving up; default 30 minutes. */
  maxWaitMs?: number;
  /** How often a held lock is looked at again; default 200 ms. */
  pollMs?: number;
  /** Told once, when the lock is found held by another live process, before waiting for it: who holds it. */
  onWait?: (holder: string) => void;
}

const MINUTE = 60_000;

/** Holders in this process, by the lock file's absolute path. */
const processTurn = inTurn();

/**
 * One holder at a time across processes: `lockFile` is created exclusively with its holder in it
 * (lib/exec/lock-holder.ts), and removed when `body` settles if it is still that holder's. A
 * lock whose holder is known to be gone (a killed process on this host, in this PID namespace)
 * is taken over, through the break lock that keeps two waiters from both taking it; so is one
 * left empty or unreadable for 30 s (a crash between create and write). A holder this process
 * cannot check (another host or container sharing the folder) is waited for, and after
 * `maxWaitMs` the error names it and the file. Holders in one process (a batch's tasks) queue in
 * the process first, in the order they asked, so each takes the file as the previous one lets it
 * go, not at its next look.
 */
export function withFileLock<T>(lockFile: string, options: FileLockOptions, body: () => Promise<T>): Promise<T> {
  return processTurn(resolve(lockFile), () => holdFile(lockFile, options, body));
}

/** How long a lock file may stay empty or unreadable while its holder writes it. */
const UNWRITTEN_MS = 30_000;

async function holdFile<T>(lockFile: string, options: FileLockOptions, body: () => Promise<T>): Promise<T> {
  const maxWaitMs = options.maxWaitMs ?? 30 * MINUTE;
  const pollMs = options.pollMs ?? 200;
  await mkdir(dirname(lockFile), { recursive: true });
  const me = thisHolder(options.holder);
  const started = Date.now();
  let waited = false;
  let text: string | undefined;
  while ((text = tryCreateLock(lockFile, me)) === undefined) {
    const current = readLockText(lockFile);
    if (current === undefined) continue; // released meanwhile
    const holder = parseHolder(current, options.holder);
    if (holder ? isStale(holder) : olderThan(lockFile, UNWRITTEN_MS)) {
      // Another process taking it over at this moment: look again after a pause.
      if (breakStale(lockFile, current)) continue;
    } else {
      const who = holder ? describeHolder(holder) : `${options.holder} still writing the lock`;
      if (!waited) options.onWait?.(who);
      waited = true;
      if (Date.now() - started > maxWaitMs) {
        throw new AurenError('exec', `${lockFile} has been held by ${who} for over ${Math.round(maxWaitMs / MINUTE)} minutes`, `Remove the file if that process is not ${options.holder}.`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  try {
    return await body();
  } finally {
    releaseLock(lockFile, text);
  }
}
