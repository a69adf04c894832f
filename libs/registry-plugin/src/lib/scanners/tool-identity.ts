import { mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { ScannerAdapter, ScannerIdentity } from './types';

/**
 * The scanner's identity (version, database) read once per machine, not on every scan task: the
 * scan target's runtime input runs for each project of each Nx command, and asking the tool
 * (`trivy version`) costs a process start each time. An answer is kept while what decides it is
 * unchanged: the binary (its real path, size and modification time: a new build or an upgrade
 * changes them) and the database files it reports on (their size and modification time). A
 * cache that cannot be read or written only costs the question.
 */

/** Entries kept; a machine has a few scanners and cache folders, not hundreds. */
const MAX_ENTRIES = 64;
const FILE = 'scanner-identities.json';

/** `$NX_CACHE_DIRECTORY/auren` (so a test's "other machine" has its own), else `~/.cache/auren`. */
export function toolCacheDir(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): string {
  if (env.NX_CACHE_DIRECTORY) return join(isAbsolute(env.NX_CACHE_DIRECTORY) ? env.NX_CACHE_DIRECTORY : join(cwd, env.NX_CACHE_DIRECTORY), 'auren');
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'auren');
}

async function stamp(path: string): Promise<string> {
  const info = await stat(path, { bigint: true }).catch(() => undefined);
  return info ? `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}` : 'absent';
}

/** What the cached answer depends on: the binary and the files the tool reads its database from. */
export async function identityKey(binaryPath: string, databaseFiles: readonly string[]): Promise<string> {
  const real = await realpath(binaryPath).catch(() => binaryPath);
  const parts = [real, await stamp(real), ...(await Promise.all(databaseFiles.map(async (f) => `${f}=${await stamp(f)}`)))];
  return parts.join('|');
}

type Entries = Record<string, { identity: ScannerIdentity; at: number }>;

export async function cachedIdentity(
  options: { binaryPath: string; databaseFiles: readonly string[]; env: NodeJS.ProcessEnv },
  identify: () => Promise<ScannerIdentity>,
): Promise<ScannerIdentity> {
  const file = join(toolCacheDir(options.env), FILE);
  const key = await identityKey(options.binaryPath, options.databaseFiles);
  let entries: Entries = {};
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) entries = parsed as Entries;
  } catch {
    // Absent or unreadable: asked once more, then written.
  }
  const hit = entries[key]?.identity;
  if (hit && typeof hit.version === 'string' && typeof hit.db === 'string') return hit;
  const identity = await identify();
  // A database the tool has just written may still be settling: only a stable answer is kept.
  if ((await identityKey(options.binaryPath, options.databaseFiles)) !== key) return identity;
  const kept = Object.entries({ ...entries, [key]: { identity, at: Date.now() } })
    .sort((a, b) => b[1].at - a[1].at)
    .slice(0, MAX_ENTRIES);
  try {
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(Object.fromEntries(kept))}\n`);
    await rename(tmp, file);
  } catch {
    // A read-only cache folder: the next run asks again.
  }
  return identity;
}

/**
 * The scanner's identity, asked once per machine where the adapter names the files its answer
 * depends on (Trivy), else every time. The fingerprint and the scan ask the same way, so a scan
 * that follows a fingerprint on the same machine does not ask at all.
 */
export async function scannerIdentity(adapter: ScannerAdapter, binaryPath: string, env: NodeJS.ProcessEnv, cacheDir?: string): Promise<ScannerIdentity> {
  // The process wrapper is loaded only when the tool must be asked: the fingerprint starts
  // faster without it.
  const ask = async () => adapter.identify((await import('../exec/exec')).exec, binaryPath, env, cacheDir);
  return adapter.databaseFiles ? cachedIdentity({ binaryPath, databaseFiles: adapter.databaseFiles(env, cacheDir), env }, ask) : ask();
}
