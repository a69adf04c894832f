import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { environmentValue } from '../config/precedence';
import { parseDigest } from '../registry/digest';
import { layoutBlobPath } from '../registry/layout';

/**
 * Work about a layer depends only on the layer's bytes, so it is done once per layer digest and
 * kept here: what the secret check found in it, its file counts, its package list, and the
 * uncompressed ↔ compressed digest pair with the compressed blob itself (so an export need not
 * re-compress an unchanged layer).
 *
 * It lives beside the Nx cache (`$NX_CACHE_DIRECTORY/auren-layers`, else `.nx/cache/auren-layers`),
 * so whatever carries or clears the Nx cache does the same for it. Every record kind has a
 * version in its path: a change in how a record is computed bumps the version, and old records
 * are simply never read again. Entries are written to a temporary name and renamed, so a reader
 * sees a whole entry or none, and parallel writers of the same digest agree (same content).
 * Losing the folder only costs time: everything in it is recomputed from the layout.
 */
export interface LayerCache {
  /** Absent when caching is off. */
  readonly dir: string | undefined;
  /** A record of `kind` at `version` for `digest`, or undefined (missing, unreadable, other version). */
  recordGet<T>(kind: string, version: string, digest: string): Promise<T | undefined>;
  recordPut<T>(kind: string, version: string, digest: string, value: T): Promise<void>;
  /** Path of a stored blob by its digest, when present. */
  blobGet(digest: string): Promise<string | undefined>;
  /** Store `file` (whose digest the caller verified) under `digest`; a hard link when possible. */
  blobPut(digest: string, file: string): Promise<void>;
}

export const LAYER_CACHE_FOLDER = 'auren-layers';

/** `$NX_CACHE_DIRECTORY/auren-layers` (relative to the workspace when relative), else `.nx/cache/auren-layers`. */
export function layerCacheDir(workspaceRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const nxCache = env.NX_CACHE_DIRECTORY
    ? isAbsolute(env.NX_CACHE_DIRECTORY) ? env.NX_CACHE_DIRECTORY : join(workspaceRoot, env.NX_CACHE_DIRECTORY)
    : join(workspaceRoot, '.nx', 'cache');
  return join(nxCache, LAYER_CACHE_FOLDER);
}

const VERSION_RE = /^[A-Za-z0-9._-]{1,64}$/;

async function writeAtomically(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await write(tmp);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

export function createLayerCache(dir: string): LayerCache {
  const recordPath = (kind: string, version: string, digest: string) => {
    if (!VERSION_RE.test(kind) || !VERSION_RE.test(version)) throw new Error(`invalid layer cache key ${kind}/${version}`);
    // Digests come from layouts we did not write: parsed, so none escapes the cache folder.
    const { algorithm, hex } = parseDigest(digest, `the layer cache ${dir}`);
    return join(dir, kind, version, algorithm, `${hex}.json`);
  };
  // The cache keeps blobs as a layout does (`blobs/<alg>/<hex>`), so a layer is linked either way.
  const blobPath = (digest: string) => layoutBlobPath(dir, digest);
  return {
    dir,
    async recordGet<T>(kind: string, version: string, digest: string) {
      try {
        return JSON.parse(await readFile(recordPath(kind, version, digest), 'utf8')) as T;
      } catch {
        // A missing or damaged entry is a miss: it is recomputed and rewritten.
        return undefined;
      }
    },
    async recordPut<T>(kind: string, version: string, digest: string, value: T) {
      await writeAtomically(recordPath(kind, version, digest), (tmp) => writeFile(tmp, JSON.stringify(value)));
    },
    async blobGet(digest) {
      const path = blobPath(digest);
      return (await stat(path).catch(() => undefined))?.isFile() ? path : undefined;
    },
    async blobPut(digest, file) {
      const path = blobPath(digest);
      // Same digest, same size: already stored. A different size is a damaged entry: replaced.
      const [have, given] = await Promise.all([stat(path).catch(() => undefined), stat(file)]);
      if (have && have.size === given.size) return;
      await writeAtomically(path, async (tmp) => {
        // A hard link costs no space; across file systems the blob is copied.
        await link(file, tmp).catch(() => copyFile(file, tmp));
      });
    },
  };
}

/** No cache: every lookup misses and nothing is kept (a full re-read, for tests and `--skip-nx-cache`). */
export function noLayerCache(): LayerCache {
  return {
    dir: undefined,
    recordGet: async () => undefined,
    recordPut: async () => undefined,
    blobGet: async () => undefined,
    blobPut: async () => undefined,
  };
}

/** The workspace's layer cache; off when AUREN_LAYER_CACHE=false. */
export function openLayerCache(workspaceRoot: string, env: NodeJS.ProcessEnv = process.env): LayerCache {
  const setting = environmentValue(env, 'AUREN_LAYER_CACHE');
  if (setting === 'false' || setting === '0') return noLayerCache();
  return createLayerCache(layerCacheDir(workspaceRoot, env));
}
