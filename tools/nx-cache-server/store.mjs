// The cache on disk: `<dir>/scopes/<scope>/<hash>`, one immutable file per entry, received into
// `<dir>/tmp/` and published with link(2), which fails when the entry exists. So a reader never sees
// half an entry, and of two writers racing on one hash the first to finish wins and the second
// learns it (`already-exists`): an entry, once there, is never replaced.
import { createWriteStream, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { link, open, rm, stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SCOPE } from './access.mjs';

/** Nx names an entry by the task's hash (decimal digits today); this is the most a file name may be. */
export const HASH = /^[A-Za-z0-9_-]{1,128}$/;

/** Opens (creating) the store and drops partial files a stopped server left behind. */
export function openStore(dir) {
  const store = { dir, scopes: join(dir, 'scopes'), tmp: join(dir, 'tmp') };
  mkdirSync(store.scopes, { recursive: true });
  rmSync(store.tmp, { recursive: true, force: true });
  mkdirSync(store.tmp, { recursive: true, mode: 0o700 });
  return store;
}

/**
 * Entries at the top of the folder: the single-token layout, where whoever held the one token
 * could have written them. They are not served; the count lets the server say so.
 */
export function legacyEntries(store) {
  return readdirSync(store.dir, { withFileTypes: true }).filter((e) => e.isFile() && HASH.test(e.name)).length;
}

function entryPath(store, scope, hash) {
  // The server validates both before calling; a file name is built here, so check again.
  if (!SCOPE.test(scope) || !HASH.test(hash)) throw new Error(`not a scope and hash: ${JSON.stringify(scope)} ${JSON.stringify(hash)}`);
  return join(store.scopes, scope, hash);
}

/** The first of `scopes` that holds the entry: `{ scope, size, stream }`, or `not-found`. */
export async function entryGet(store, scopes, hash) {
  for (const scope of scopes) {
    const path = entryPath(store, scope, hash);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (error.code === 'ENOENT') continue;
      throw error;
    }
    const { size } = await handle.stat();
    return { scope, size, stream: handle.createReadStream() };
  }
  return 'not-found';
}

export async function entryExists(store, scope, hash) {
  return stat(entryPath(store, scope, hash)).then(() => true, (error) => (error.code === 'ENOENT' ? false : Promise.reject(error)));
}

/**
 * Receives `body` (a request) as the entry `scope/hash`. Outcomes: `stored`, `already-exists`,
 * `too-large` (more than `maxBytes`), `timed-out` (no byte for `idleMs`) and `incomplete` (the
 * client went away). On `timed-out` and `too-large` the body is left unread, so the caller can
 * still answer before closing the connection.
 */
export async function entryPut(store, scope, hash, body, { maxBytes, idleMs }) {
  const target = entryPath(store, scope, hash);
  mkdirSync(join(store.scopes, scope), { recursive: true });
  const partial = join(store.tmp, `${scope}.${hash}.${randomUUID()}`);
  let failure = null;
  let received = 0;
  const meter = new Transform({
    transform(chunk, _encoding, callback) {
      received += chunk.length;
      idle.refresh();
      if (received > maxBytes) return callback(stop('too-large'));
      callback(null, chunk);
    },
  });
  const stop = (why) => {
    failure ??= why;
    body.unpipe(meter);
    const error = new Error(why);
    meter.destroy(error);
    return error;
  };
  const idle = setTimeout(() => stop('timed-out'), idleMs);
  const onClose = () => {
    if (!body.complete) stop('incomplete');
  };
  const onError = () => stop('incomplete');
  body.once('close', onClose);
  body.once('error', onError);
  // The client may have gone while the caller was still deciding: its 'close' has passed already.
  if (body.destroyed) stop('incomplete');
  else body.pipe(meter);
  const file = createWriteStream(partial, { flags: 'wx', mode: 0o644 });
  // Closed (its descriptor released) before the partial file is removed: a stream destroyed
  // while still opening creates the file after the removal otherwise, and it stays behind.
  const fileClosed = new Promise((resolve) => file.once('close', resolve));
  try {
    await pipeline(meter, file);
    const handle = await open(partial, 'r');
    await handle.sync().finally(() => handle.close());
    try {
      await link(partial, target);
    } catch (error) {
      if (error.code === 'EEXIST') return 'already-exists';
      throw error;
    }
    return 'stored';
  } catch (error) {
    if (failure) return failure;
    throw error;
  } finally {
    clearTimeout(idle);
    body.off('close', onClose);
    body.off('error', onError);
    file.destroy();
    await fileClosed;
    await rm(partial, { force: true });
  }
}
