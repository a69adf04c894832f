#!/usr/bin/env node
// A self-hosted Nx remote cache for tests and small teams: the HTTP API that Nx 23 speaks when
// NX_SELF_HOSTED_REMOTE_CACHE_SERVER is set (GET/PUT /v1/cache/{hash}, a tar per task, bearer
// token from NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN). No package on the registries this
// project reaches implements it, so this one does, with no dependencies.
//
//   NX_CACHE_WRITE_TOKENS=<main's token> NX_CACHE_READ_TOKENS=<pull requests' token> \
//     node tools/nx-cache-server/server.mjs --dir .auren/nx-cache --port 0
//
// Who may write is the point (README.md here): an entry is restored by every later run with the
// same hash and never replaced, so a job that can write an entry main reads can put its own
// output into main's build. Read-only tokens get 403 on PUT (Nx then carries on without storing);
// with --config, tokens write into scopes of their own that main's token does not read.
//
// Prints `listening on http://<host>:<port>` once ready, and one line per refused request or
// stored entry, naming the token by its label, never by its value.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { authorize, ConfigError, loadGrants } from './access.mjs';
import { entryExists, entryGet, entryPut, HASH, legacyEntries, openStore } from './store.mjs';

function readOptions() {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: '.auren/nx-cache' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      config: { type: 'string', default: process.env.NX_CACHE_CONFIG },
      'max-entry-bytes': { type: 'string', default: String(2 * 1024 ** 3) },
      'idle-timeout-ms': { type: 'string', default: '30000' },
      'request-timeout-ms': { type: 'string', default: String(15 * 60_000) },
      // Declared only to refuse it with an explanation (its value is never printed).
      token: { type: 'string' },
    },
  });
  if (values.token !== undefined) {
    throw new ConfigError(
      '--token (one read-write token for everyone) is gone: a pull request holding it could store an entry main then restores. ' +
        'Set NX_CACHE_WRITE_TOKENS for main and release jobs and NX_CACHE_READ_TOKENS for pull requests, or use --config.',
    );
  }
  const number = (name, min) => {
    const value = Number(values[name]);
    if (!Number.isSafeInteger(value) || value < min) throw new ConfigError(`--${name} must be an integer of at least ${min}`);
    return value;
  };
  return {
    dir: values.dir,
    port: number('port', 0),
    host: values.host,
    grants: loadGrants(process.env, values.config),
    maxEntryBytes: number('max-entry-bytes', 1),
    idleTimeoutMs: number('idle-timeout-ms', 1),
    requestTimeoutMs: number('request-timeout-ms', 1000),
  };
}

let options;
try {
  options = readOptions();
} catch (error) {
  console.error(`nx-cache-server: ${error instanceof ConfigError || error.code?.startsWith('ERR_PARSE_ARGS') ? error.message : String(error)}`);
  process.exit(2);
}

const store = openStore(options.dir);
const legacy = legacyEntries(store);
if (legacy > 0) {
  console.error(`nx-cache-server: ${legacy} entries at the top of ${options.dir} come from the single-token layout, where any token holder could write; they are not served. Delete them.`);
}
const stats = { hits: 0, misses: 0, stored: 0, refused: 0, bytesStored: 0, bytesServed: 0 };

/**
 * The request's path as it may be printed: a cache path of a client that gave a known token, else
 * only its length. A client may have put anything in the path, a token that would pass for a
 * hash included.
 */
const printable = (url, authenticated) => (authenticated && (HASH_PATH.test(url) || url === '/stats') ? url : `<path of ${url.length} chars>`);
const HASH_PATH = /^\/v1\/cache\/[A-Za-z0-9_-]{1,128}$/;

function log(req, status, detail, { authenticated = true } = {}) {
  console.log(`${req.method} ${printable(req.url ?? '', authenticated)} ${status} ${detail}`);
}

/** A refused request's body up to this size is read and dropped, so the client gets to read the answer. */
const DRAIN_UNAUTHENTICATED = 64 * 1024;

async function handle(req, res) {
  // `close`: the body of a refused request is not read at all; the connection ends after the answer.
  const send = (status, body, { close = false } = {}) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...(close ? { connection: 'close' } : {}) }).end(body);
  };
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const declared = req.headers['content-length'] === undefined ? NaN : Number(req.headers['content-length']);
  const hasBody = chunked || !Number.isNaN(declared);
  const drainsAtMost = (limit) => !hasBody || (!chunked && declared <= limit);
  const access = authorize(options.grants, req.headers.authorization);
  if (access.kind !== 'granted') {
    log(req, 401, access.kind === 'missing' ? 'no bearer token' : 'unknown token', { authenticated: false });
    return send(401, 'missing or wrong bearer token', { close: !drainsAtMost(DRAIN_UNAUTHENTICATED) });
  }
  const { grant } = access;
  if (req.url === '/stats' && req.method === 'GET') return send(200, JSON.stringify(stats));
  if (!req.url?.startsWith('/v1/cache/')) return send(404, 'not found');
  const hash = req.url.slice('/v1/cache/'.length);
  if (!HASH.test(hash)) {
    log(req, 400, `${grant.name}: not a cache hash`);
    return send(400, 'a cache hash is 1-128 letters, digits, "-" or "_"', { close: !drainsAtMost(options.maxEntryBytes) });
  }

  if (req.method === 'GET') {
    const entry = await entryGet(store, grant.read, hash);
    if (entry === 'not-found') {
      stats.misses++;
      return send(404, 'not in the cache');
    }
    stats.hits++;
    stats.bytesServed += entry.size;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': entry.size });
    return pipeline(entry.stream, res).catch(() => res.destroy());
  }

  if (req.method === 'PUT') {
    if (grant.write === null) {
      stats.refused++;
      log(req, 403, `${grant.name}: read-only token`);
      // Nx treats 403 as "not stored" and carries on, once it has read the answer: a body of an
      // entry's size is drained for that (the idle and request timeouts still bound it).
      return send(403, 'this token is read-only', { close: !drainsAtMost(options.maxEntryBytes) });
    }
    if (chunked || Number.isNaN(declared)) {
      log(req, 411, `${grant.name}: no content-length`);
      return send(411, 'give the entry\'s size in content-length', { close: true });
    }
    if (declared > options.maxEntryBytes) {
      log(req, 413, `${grant.name}: ${declared} bytes, over --max-entry-bytes ${options.maxEntryBytes}`);
      return send(413, `an entry is at most ${options.maxEntryBytes} bytes`, { close: true });
    }
    if (await entryExists(store, grant.write, hash)) return send(409, 'already cached');
    const outcome = await entryPut(store, grant.write, hash, req, { maxBytes: options.maxEntryBytes, idleMs: options.idleTimeoutMs });
    switch (outcome) {
      case 'stored':
        stats.stored++;
        stats.bytesStored += declared;
        log(req, 200, `${grant.name}: stored in ${grant.write} (${declared} bytes)`);
        return send(200, '');
      case 'already-exists':
        return send(409, 'already cached');
      case 'too-large':
        log(req, 413, `${grant.name}: body longer than --max-entry-bytes`);
        return send(413, `an entry is at most ${options.maxEntryBytes} bytes`, { close: true });
      case 'timed-out':
        log(req, 408, `${grant.name}: no data for ${options.idleTimeoutMs} ms`);
        return send(408, 'the entry stopped arriving', { close: true });
      case 'incomplete':
        log(req, 400, `${grant.name}: connection closed before the entry was complete`);
        return res.destroy();
      default:
        throw new Error(`unhandled outcome ${outcome}`);
    }
  }
  res.setHeader('allow', 'GET, PUT');
  return send(405, 'GET or PUT');
}

const server = createServer((req, res) => {
  handle(req, res).catch((error) => {
    // The message names files, never a token; the client learns only that it failed.
    log(req, 500, error.message);
    if (res.headersSent) res.destroy();
    else res.writeHead(500, { 'content-type': 'text/plain', connection: 'close' }).end('the cache failed to handle the request');
  });
});
// Slow clients are bounded: headers within 20 s, a whole request within --request-timeout-ms,
// and a body that pauses for --idle-timeout-ms is answered 408 (entryPut). A connection silent
// for longer, such as a client that stopped reading an entry it asked for, is closed; the margin
// lets the 408 go out first, and an idle keep-alive connection is ended by keepAliveTimeout,
// which clients expect, not by this.
server.headersTimeout = Math.min(20_000, options.requestTimeoutMs);
server.requestTimeout = options.requestTimeoutMs;
server.timeout = Math.max(options.idleTimeoutMs * 4, server.keepAliveTimeout * 2);
server.listen(options.port, options.host, () => {
  const { port } = server.address();
  console.log(`listening on http://${options.host}:${port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
