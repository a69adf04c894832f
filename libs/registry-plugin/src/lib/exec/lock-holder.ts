import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readlinkSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who holds a lock file (the upkeep lock in lib/retention/lock.ts, the build and scan locks in
 * ./file-lock.ts): a line of JSON with the holder's pid and what identifies that process on its
 * machine, so that a lock is taken over only from a holder known to be gone:
 * - host: a holder on another host (a shared folder) cannot be checked from here;
 * - boot id: after a reboot no holder of before runs;
 * - PID namespace: a holder in another container sharing the folder has a pid this process
 *   cannot see, so a pid missing here says nothing about it;
 * - the process's start tick: a pid reused after a crash is not the holder.
 */
export interface LockHolder {
  command: string;
  pid: number;
  host: string;
  startedAt?: string;
  /** /proc/sys/kernel/random/boot_id of the holder's machine, when it has one. */
  boot?: string;
  /** The holder's PID namespace (`readlink /proc/self/ns/pid`), when the system has one. */
  pidNamespace?: string;
  /** Field 22 of /proc/<pid>/stat: the holder's start, in clock ticks since boot. */
  processStart?: string;
  /** Random, so a holder releases only its own lock. */
  token?: string;
}

export function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException)?.code;
}

/** A lock file is a line of JSON; more than this is not one (and is never read whole). */
const MAX_LOCK_BYTES = 4096;

/** A lock file's text (at most MAX_LOCK_BYTES), or undefined when there is none. */
export function readLockText(path: string): string | undefined {
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

const bootId = (): string | undefined => readLockText('/proc/sys/kernel/random/boot_id')?.trim() || undefined;

function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

function processStart(pid: number): string | undefined {
  const stat = readLockText(`/proc/${pid}/stat`);
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

/** This process as the holder of a lock taken for `command`. */
export function thisHolder(command: string): LockHolder {
  return {
    command,
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    boot: bootId(),
    pidNamespace: pidNamespace(),
    processStart: processStart(process.pid),
    token: randomBytes(8).toString('hex'),
  };
}

/**
 * The holder a lock file names. A bare pid is what locks held before holders were recorded:
 * `command` on this host.
 */
export function parseHolder(text: string, command: string): LockHolder | undefined {
  if (/^\d+$/.test(text.trim())) return { command, pid: Number(text.trim()), host: hostname() };
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    // A wrong-typed field would compare unequal to any real one: a start tick of 5 against "5"
    // would make a live holder look like a reused pid, and its lock be taken over.
    const optional = [value.startedAt, value.boot, value.pidNamespace, value.processStart, value.token];
    if (
      typeof value.pid === 'number' && Number.isSafeInteger(value.pid) && value.pid > 0 &&
      typeof value.host === 'string' && typeof value.command === 'string' &&
      optional.every((field) => field === undefined || typeof field === 'string')
    ) {
      return value as LockHolder;
    }
  } catch {
    // fall through
  }
  return undefined;
}

/** Whether `holder` is known to be gone; a holder this process cannot check never is. */
export function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  const boot = bootId();
  if (holder.boot && boot && holder.boot !== boot) return true;
  const namespace = pidNamespace();
  if (holder.pidNamespace && holder.pidNamespace !== namespace) return false;
  if (!isAlive(holder.pid)) return true;
  if (!holder.processStart) return false;
  const start = processStart(holder.pid);
  return start !== undefined && start !== holder.processStart;
}

export function describeHolder(holder: LockHolder): string {
  const where = holder.host === hostname() ? '' : ` on ${holder.host}`;
  return `${holder.command} (pid ${holder.pid}${where}${holder.startedAt ? `, started ${holder.startedAt}` : ''})`;
}

/** How old a lock file that does not parse must be to count as left by a holder killed while writing it. */
export const UNREADABLE_STALE_MS = 60_000;

/** Whether the lock file at `path` was last written at least `ms` ago (a missing one was not). */
export function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs >= ms;
  } catch (error) {
    if (errno(error) === 'ENOENT') return false;
    throw error;
  }
}

/** A takeover holds `<lock>.break` for microseconds; one this old was left by a process killed in it. */
const BREAK_STALE_MS = 10_000;

/**
 * Removes the lock at `path` if it still holds `staleText`, the stale holder that was read. Every
 * takeover goes through `<path>.break`, made with exclusive create: two processes that both read
 * the same stale holder would otherwise both remove "it", and the slower one would remove the
 * lock the faster one took in between, so both would hold it. Under the break lock the file is
 * read again and removed only if it is still the stale one: a new lock can appear only where a
 * file was removed, and only a break-lock holder removes another's lock. Returns whether this
 * call removed it; either way the caller tries to take the lock again.
 */
export function breakStale(path: string, staleText: string): boolean {
  const breakPath = `${path}.break`;
  let fd: number;
  try {
    fd = openSync(breakPath, 'wx', 0o600);
  } catch (error) {
    if (errno(error) !== 'EEXIST') throw error;
    if (olderThan(breakPath, BREAK_STALE_MS)) unlinkIfThere(breakPath);
    return false;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
    if (readLockText(path) !== staleText) return false;
    unlinkIfThere(path);
    return true;
  } finally {
    closeSync(fd);
    unlinkIfThere(breakPath);
  }
}

function unlinkIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errno(error) !== 'ENOENT') throw error;
  }
}

/**
 * Takes the lock at `path` for `holder` if nobody holds it: the file is made with exclusive
 * create and holds the holder's line of JSON. Returns that text (what release compares), or
 * undefined when the file exists.
 */
export function tryCreateLock(path: string, holder: LockHolder): string | undefined {
  const text = `${JSON.stringify(holder)}\n`;
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if (errno(error) === 'EEXIST') return undefined;
    throw error;
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return text;
}

/** Removes the lock at `path` if it is still the one `text` took. */
export function releaseLock(path: string, text: string): void {
  if (readLockText(path) === text) unlinkIfThere(path);
}
