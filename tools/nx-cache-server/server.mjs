#!/usr/bin/env node
// A self-hosted Nx remote cache for tests and small teams: the HTTP API that Nx 23 speaks when
// NX_SELF_HOSTED_REMOTE_CACHE_SERVER is set (GET/PUT /v1/cache/{hash}, a tar per task, bearer
// token from NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN). No package on the registries this
// project reaches implements it, so this one does, in one file, with no dependencies.
//
//   node tools/nx-cache-server/server.mjs --dir .auren/nx-cache --port 0 --token <secret>
//
// Prints `listening on http://127.0.0.1:<port>` once ready. Entries are immutable: a second PUT
// of a hash answers 409, as Nx expects. Counts of hits, misses and stored bytes are at GET /stats.
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pipeline } from 'node:stream/promises';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.auren/nx-cache' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    token: { type: 'string', default: process.env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN ?? '' },
  },
});
if (!values.token) {
  console.error('nx-cache-server: give --token or set NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN (clients send it as a bearer token)');
  process.exit(2);
}
mkdirSync(values.dir, { recursive: true });
const stats = { hits: 0, misses: 0, stored: 0, bytesStored: 0, bytesServed: 0 };
const HASH = /^\/v1\/cache\/([A-Za-z0-9_-]{1,128})$/;

const server = createServer(async (req, res) => {
  const send = (status, body = '') => res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  if (req.url === '/stats') return send(200, JSON.stringify(stats));
  if (req.headers.authorization !== `Bearer ${values.token}`) return send(401, 'missing or wrong bearer token');
  const match = HASH.exec(req.url ?? '');
  if (!match) return send(404, 'not found');
  const file = join(values.dir, match[1]);
  if (req.method === 'GET') {
    if (!existsSync(file)) {
      stats.misses++;
      return send(404, 'not in the cache');
    }
    stats.hits++;
    const size = statSync(file).size;
    stats.bytesServed += size;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    return pipeline(createReadStream(file), res).catch(() => res.destroy());
  }
  if (req.method === 'PUT') {
    if (existsSync(file)) return send(409, 'already cached');
    // Written aside and renamed: a reader never sees half an entry.
    const partial = `${file}.${process.pid}.${Date.now()}.partial`;
    try {
      await pipeline(req, createWriteStream(partial));
      renameSync(partial, file);
    } catch (error) {
      rmSync(partial, { force: true });
      return send(500, String(error));
    }
    stats.stored++;
    stats.bytesStored += statSync(file).size;
    return send(200);
  }
  return send(405, 'GET or PUT');
});
server.listen(Number(values.port), values.host, () => {
  const { port } = server.address();
  console.log(`listening on http://${values.host}:${port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
