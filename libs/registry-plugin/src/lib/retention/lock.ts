import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { AurenError } from '../errors/errors';

/**
 * One registry upkeep at a time per journal folder (and per registry storage folder): a lock file
 * made with exclusive create (`open(O_CREAT|O_EXCL)`, atomic on local filesystems and NFSv3+),
 * holding who took it: pid, host, start time, and the identity of that process on its machine
 * (boot id and the process's start tick in /proc), so a pid reused after a crash or a reboot is
 * not taken for the holder.
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

export interface LockHolder {
  command: string;
  pid: number;
  host: string;
  startedAt?: string;
  /** /proc/sys/kernel/random/boot_id of the holder's machine, when it has one. */
  boot?: string;
  /** Field 22 of /proc/<pid>/stat: the holder's start, in clock ticks since boot. */
  processStart?: string;
  /** Random, so a holder releases only its own lock. */
  token?: string;
}

export interface HeldLock {
  readonly path: string;
  release(): void;
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException)?.code;
}

/** A lock file is a line of JSON; more than this is not one (and is never read whole). */
const MAX_LOCK_BYTES = 4096;

function readText(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (errno(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(MAX_LOCK_BYTES);
    return buffer.toString('utf8', 0, readSync(fd, buffer, 0, MAX_LOCK_BYTES, 0));
  } finally {
    closeSync(fd);
  }
}

const bootId = (): string | undefined => readText('/proc/sys/kernel/random/boot_id')?.trim() || undefined;

function processStart(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errno(error) === 'EPERM';
  }
}

/** The holder a lock file names; a bare pid is what storage locks held before. */
function parseHolder(text: string): LockHolder | undefined {
  if (/^\d+$/.test(text.trim())) return { command: 'cleanup', pid: Number(text.trim()), host: hostname() };
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === 'number' && Number.isSafeInteger(value.pid) && value.pid > 0 && typeof value.host === 'string' && typeof value.command === 'string') {
      return value as LockHolder;
    }
  } catch {
    // fall through
  }
  return undefined;
}

/** Whether `holder` is known to be gone; a holder on another machine never is. */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  const boot = bootId();
  if (holder.boot && boot && holder.boot !== boot) return true;
  if (!isAlive(holder.pid)) return true;
  return !!holder.processStart && processStart(holder.pid) !== undefined && processStart(holder.pid) !== holder.processStart;
}

function describe(holder: LockHolder): string {
  const where = holder.host === hostname() ? '' : ` on ${holder.host}`;
  return `${holder.command} (pid ${holder.pid}${where}${holder.startedAt ? `, started ${holder.startedAt}` : ''})`;
}

/**
 * Removes a stale lock, unless someone replaced it in the meantime: it is renamed aside first
 * (atomic), and if what was renamed is not the stale lock that was read, it is linked back
 * (link fails rather than overwrite a lock taken since).
 */
function breakStale(path: string, staleText: string): void {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (errno(error) === 'ENOENT') return;
    throw error;
  }
  if (readText(aside) !== staleText) {
    try {
      linkSync(aside, path);
    } catch (error) {
      if (errno(error) !== 'EEXIST') throw error;
    }
  }
  unlinkSync(aside);
}

/** A lock file older than this that does not parse was left by a holder killed while writing it. */
const UNREADABLE_STALE_MS = 60_000;

/**
 * Takes the lock at `path` for `command` or throws a registry error naming its holder. `log` hears
 * about stale locks taken over.
 */
export function lockAcquire(path: string, command: string, log?: (line: string) => void): HeldLock {
  mkdirSync(dirname(path), { recursive: true });
  const me: LockHolder = {
    command,
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    boot: bootId(),
    processStart: processStart(process.pid),
    token: randomBytes(8).toString('hex'),
  };
  const text = JSON.stringify(me) + '\n';
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if (errno(error) !== 'EEXIST') throw error;
      const current = readText(path);
      if (current === undefined) continue; // released meanwhile
      const holder = parseHolder(current);
      if (!holder) {
        if (Date.now() - statSync(path).mtimeMs < UNREADABLE_STALE_MS) {
          throw new AurenError('registry', `another upkeep run is taking the lock ${path}`, `Wait a minute and try again; if it stays, remove ${path}.`);
        }
        log?.(`removing the unreadable lock ${path}, left by a run killed while taking it`);
        breakStale(path, current);
        continue;
      }
      if (isStale(holder)) {
        log?.(`taking over the lock of ${describe(holder)}, which is no longer running`);
        breakStale(path, current);
        continue;
      }
      throw new AurenError(
        'registry',
        `another ${describe(holder)} is running; wait for it, or remove ${path} if it is stale`,
        `Only one cleanup or restore at a time uses ${dirname(path)}; nothing was changed by this run.`,
      );
    }
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return {
      path,
      release() {
        if (readText(path) === text) unlinkSync(path);
      },
    };
  }
  throw new AurenError('registry', `could not take the lock ${path}: other runs keep taking it`, 'Run one cleanup at a time.');
}
