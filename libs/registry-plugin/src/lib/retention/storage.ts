import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AurenError } from '../errors/errors';
import { isDigest } from '../registry/digest';
import { tryParseManifest } from '../registry/image-graph';
import { lockAcquire, type HeldLock } from './lock';

/**
 * Direct access to the filesystem storage of a CNCF distribution registry that this machine
 * runs: the embedded one, or a self-hosted one whose storage folder is named with `--storage`.
 *
 * Why: distribution 2.8 deletes manifests by digest only, and every DELETE reads the link of
 * every tag in the repository to find the ones to drop (registry/storage/tagstore.go, Lookup).
 * At 5,000 tags that is ~0.2 s of registry CPU per deletion, so a cleanup of thousands of images
 * takes many minutes however it is driven. Removing the same links the DELETE handler removes
 * costs a rename and an unlink each.
 *
 * Layout (registry/storage/paths.go), under <root>/docker/registry/v2/repositories/<name>/:
 *   _manifests/tags/<tag>/current/link            the digest a tag names
 *   _manifests/tags/<tag>/index/<alg>/<hex>/link  digests it named before
 *   _manifests/revisions/<alg>/<hex>/link          the manifest belongs to the repository
 * and <root>/docker/registry/v2/blobs/<alg>/<first two hex>/<hex>/data holds the bytes.
 * A DELETE by digest removes the revision link and every tag folder that names the digest;
 * garbage collection removes the rest later. That is all this module removes.
 *
 * Safety: a tag folder is first renamed (atomically) into a trash folder beside the registry
 * data, and only then is its link read; if it no longer names the digest, it is put back and
 * the image is skipped. A run killed in between leaves the trash, which the next run puts back
 * (`recover`) before it reads anything. One cleanup at a time holds a lock file (lock.ts).
 */

export interface StoredTag {
  tag: string;
  digest: string;
}

export type StorageDeleteResult =
  | { outcome: 'deleted' | 'already-gone' }
  /** A tag of the image names another digest now: nothing was removed. */
  | { outcome: 'moved'; tag: string; digest: string };

/** Optional capability: list every manifest a repository stores, tagged or not. */
export interface ManifestLister {
  manifestDigests(repository: string): Promise<string[]>;
}

export interface RegistryStorage extends ManifestLister {
  readonly root: string;
  /**
   * Every tag whose link names a manifest the repository holds (what the API would serve); with
   * `dangling`, also tags whose manifest is gone.
   */
  tagsRead(repository: string, options?: { dangling?: boolean }): Promise<StoredTag[]>;
  /**
   * The manifest's bytes from the blob store, when the repository holds it and its JSON names its
   * media type (what the API would answer with); `undefined` means "ask the API".
   */
  manifestRead(repository: string, digest: string): Promise<{ mediaType: string; body: Buffer } | 'not-found' | undefined>;
  /** Removes the tags (if they still name `digest`) and the manifest's revision link. */
  imageDelete(repository: string, digest: string, tags: readonly string[]): Promise<StorageDeleteResult>;
  /** Takes the lock and puts back whatever an interrupted run left in the trash. */
  open(log?: (line: string) => void): Promise<{ recovered: number }>;
  /** Waits for the folders of deleted tags to be removed, and releases the lock. */
  close(): Promise<void>;
  /** Tags an interrupted run left aside (read-only: plans must not change anything). */
  pendingRecovery(): number;
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException)?.code;
}

function readLink(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    return isDigest(text) ? text : undefined;
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

export function registryStorage(root: string): RegistryStorage {
  const v2 = join(root, 'docker', 'registry', 'v2');
  const trash = join(root, 'auren-trash');
  const lockPath = join(trash, 'lock');
  let locked = false;
  let held: HeldLock | undefined;
  // Removing a tag folder is seven syscalls (~1.5 ms here) against one rename: it runs on libuv's
  // threads while the next deletions go on. A kill before it ends leaves folders whose manifest is
  // gone, which `open` discards.
  const removals: Array<Promise<void>> = [];

  const repoDir = (repository: string) => join(v2, 'repositories', repository);
  const tagDir = (repository: string, tag: string) => join(repoDir(repository), '_manifests', 'tags', tag);
  const revisionLink = (repository: string, digest: string) => {
    const [algorithm, hex] = digest.split(':');
    return join(repoDir(repository), '_manifests', 'revisions', algorithm, hex, 'link');
  };
  // Tags are [A-Za-z0-9_.-]; repository names contain slashes, which the encoding removes.
  const trashDir = (repository: string, tag: string) => join(trash, 'tags', encodeURIComponent(repository), tag);

  const revisionPresent = (repository: string, digest: string) => readLink(revisionLink(repository, digest)) === digest;

  /** Puts a trashed tag folder back unless a push has since re-created the tag (newer wins). */
  const putBack = (repository: string, tag: string) => {
    const from = trashDir(repository, tag);
    if (existsSync(tagDir(repository, tag))) rmSync(from, { recursive: true, force: true });
    else renameSync(from, tagDir(repository, tag));
  };

  /** Puts back what an interrupted run left in the trash; the count of tags put back. */
  const recover = (log?: (line: string) => void): number => {
    let recovered = 0;
    const tagsRoot = join(trash, 'tags');
    for (const encoded of existsSync(tagsRoot) ? readdirSync(tagsRoot) : []) {
      const repository = decodeURIComponent(encoded);
      for (const tag of readdirSync(join(tagsRoot, encoded))) {
        const digest = readLink(join(trashDir(repository, tag), 'current', 'link'));
        // Killed after the revision link went: that image is deleted, its tags go with it.
        if (digest && !revisionPresent(repository, digest)) rmSync(trashDir(repository, tag), { recursive: true, force: true });
        else {
          putBack(repository, tag);
          recovered++;
          log?.(`put back ${repository}:${tag}, set aside by an interrupted cleanup`);
        }
      }
    }
    return recovered;
  };

  const requireStorage = () => {
    if (!existsSync(v2)) {
      throw new AurenError(
        'input',
        `${root} is not the storage folder of a distribution registry (no docker/registry/v2 inside)`,
        'Pass the registry\'s storage.filesystem.rootdirectory, or use --delete-via api to delete through the registry API.',
      );
    }
  };

  return {
    root,

    async manifestDigests(repository) {
      const revisions = join(repoDir(repository), '_manifests', 'revisions');
      if (!existsSync(revisions)) return [];
      const digests: string[] = [];
      for (const algorithm of readdirSync(revisions)) {
        for (const hex of readdirSync(join(revisions, algorithm))) {
          if (readLink(join(revisions, algorithm, hex, 'link')) === `${algorithm}:${hex}`) digests.push(`${algorithm}:${hex}`);
        }
      }
      return digests.sort();
    },

    async tagsRead(repository, options = {}) {
      requireStorage();
      const dir = join(repoDir(repository), '_manifests', 'tags');
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch (error) {
        if (errno(error) === 'ENOENT') return [];
        throw error;
      }
      const tags: StoredTag[] = [];
      for (const tag of names.sort()) {
        // distribution writes index/ before current/link, and truncates before it writes: a
        // missing or partial link is a tag being pushed right now. Read it again before deciding.
        let digest = readLink(join(dir, tag, 'current', 'link'));
        for (let attempt = 0; !digest && attempt < 3 && existsSync(join(dir, tag)); attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          digest = readLink(join(dir, tag, 'current', 'link'));
        }
        // The API answers "manifest unknown" for a tag whose manifest is not in the repository.
        if (digest && (options.dangling || revisionPresent(repository, digest))) tags.push({ tag, digest });
      }
      return tags;
    },

    async manifestRead(repository, digest) {
      if (!revisionPresent(repository, digest)) return 'not-found';
      const [algorithm, hex] = digest.split(':');
      let body: Buffer;
      try {
        body = readFileSync(join(v2, 'blobs', algorithm, hex.slice(0, 2), hex, 'data'));
      } catch (error) {
        if (errno(error) === 'ENOENT') return undefined;
        throw error;
      }
      if (createHash(algorithm).update(body).digest('hex') !== hex) return undefined;
      const mediaType = tryParseManifest(body)?.mediaType;
      return mediaType ? { mediaType, body } : undefined;
    },

    async imageDelete(repository, digest, tags) {
      if (!locked) throw new AurenError('internal', 'registryStorage.imageDelete called before open()');
      const aside: string[] = [];
      for (const tag of tags) {
        mkdirSync(join(trash, 'tags', encodeURIComponent(repository)), { recursive: true });
        try {
          renameSync(tagDir(repository, tag), trashDir(repository, tag));
        } catch (error) {
          if (errno(error) === 'ENOENT') continue; // already gone
          throw error;
        }
        aside.push(tag);
        const now = readLink(join(trashDir(repository, tag), 'current', 'link'));
        if (now !== digest) {
          for (const t of aside) putBack(repository, t);
          return { outcome: 'moved', tag, digest: now ?? '(being written)' };
        }
      }
      let outcome: 'deleted' | 'already-gone' = 'deleted';
      try {
        unlinkSync(revisionLink(repository, digest));
      } catch (error) {
        if (errno(error) !== 'ENOENT') throw error;
        if (!aside.length) outcome = 'already-gone';
      }
      for (const t of aside) removals.push(rm(trashDir(repository, t), { recursive: true, force: true }));
      return { outcome };
    },

    async open(log) {
      requireStorage();
      try {
        if (existsSync(join(v2, 'repositories'))) accessSync(join(v2, 'repositories'), constants.W_OK);
      } catch {
        throw new AurenError('input', `cannot write to ${join(v2, 'repositories')}`, 'Run cleanup as the user that owns the registry\'s storage, or use --delete-via api.');
      }
      mkdirSync(trash, { recursive: true });
      held = lockAcquire(lockPath, 'cleanup', log);
      locked = true;
      try {
        return { recovered: recover(log) };
      } catch (error) {
        // Not left held: a later run in this same process (the Nx daemon) could never take it.
        locked = false;
        held.release();
        held = undefined;
        throw error;
      }
    },

    async close() {
      if (!locked) return;
      await Promise.all(removals.splice(0));
      locked = false;
      held?.release();
      held = undefined;
    },

    pendingRecovery() {
      const tagsRoot = join(trash, 'tags');
      if (!existsSync(tagsRoot)) return 0;
      return readdirSync(tagsRoot).reduce((n, encoded) => n + readdirSync(join(tagsRoot, encoded)).length, 0);
    },
  };
}
