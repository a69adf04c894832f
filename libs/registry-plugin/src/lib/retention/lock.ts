import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AurenError } from '../errors/errors';
import {
  breakStale, describeHolder, isStale, olderThan, parseHolder, readLockText, releaseLock, thisHolder, tryCreateLock, UNREADABLE_STALE_MS,
} from '../exec/lock-holder';

/**
 * One registry upkeep at a time per journal folder (and per registry storage folder): a lock file
 * made with exclusive create (`open(O_CREAT|O_EXCL)`, atomic on local filesystems and NFSv3+),
 * holding who took it (lib/exec/lock-holder.ts: pid, host, start time, and what identifies that
 * process on its machine), so a pid reused after a crash or a reboot is not taken for the holder.
 *
 * Why a lock and not a journal per run: two cleanups at once would also decide from two plans made
 * before either deleted, and each would re-list and re-check what the other is removing; one at a
 * time keeps the undo journal a true record of one run, lets a killed run be resumed into its own
 * journal, and costs nothing (upkeep is weekly). Why not a lock in the registry: the distribution
 * API has no compare-and-swap on tags (lib/history/store.ts), so two runs could both "take" it.
 *
 * A lock whose holder is gone (same host, and that process no longer runs) is taken over, which is
 * how a run killed with SIGKILL is followed. A holder on another host cannot be checked from here:
 * the error says which lock file to remove once it is known to be stale.
 */

export type { LockHolder } from '../exec/lock-holder';

export interface HeldLock {
  readonly path: string;
  release(): void;
}

/**
 * Takes the lock at `path` for `command` or throws a registry error naming its holder. `log` hears
 * about stale locks taken over.
 */
export function lockAcquire(path: string, command: string, log?: (line: string) => void): HeldLock {
  mkdirSync(dirname(path), { recursive: true });
  const me = thisHolder(command);
  for (let attempt = 0; attempt < 5; attempt++) {
    const text = tryCreateLock(path, me);
    if (text !== undefined) return { path, release: () => releaseLock(path, text) };
    const current = readLockText(path);
    if (current === undefined) continue; // released meanwhile
    const holder = parseHolder(current, 'cleanup');
    if (!holder) {
      if (!olderThan(path, UNREADABLE_STALE_MS)) {
        throw new AurenError('registry', `another upkeep run is taking the lock ${path}`, `Wait a minute and try again; if it stays, remove ${path}.`);
      }
      log?.(`removing the unreadable lock ${path}, left by a run killed while taking it`);
      breakStale(path, current);
      continue;
    }
    if (isStale(holder)) {
      log?.(`taking over the lock of ${describeHolder(holder)}, which is no longer running`);
      breakStale(path, current);
      continue;
    }
    throw new AurenError(
      'registry',
      `another ${describeHolder(holder)} is running; wait for it, or remove ${path} if it is stale`,
      `Only one cleanup or restore at a time uses ${dirname(path)}; nothing was changed by this run.`,
    );
  }
  throw new AurenError('registry', `could not take the lock ${path}: other runs keep taking it`, 'Run one cleanup at a time.');
}
