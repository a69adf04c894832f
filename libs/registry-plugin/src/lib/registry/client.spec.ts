// @auren-test-tools registry (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { faults, startFaultProxy, type FaultProxy } from '../../testing/fault-proxy.testing';
import { writeHtpasswd } from '../../testing/htpasswd.testing';
import { REGISTRY_FLAVORS, startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { exec } from '../exec/exec';
import type { Authenticator } from './auth/types';
import { canDeleteTags, createRegistryClient, type BlobSource, type RegistryClient, type RegistryClientOptions, type TagDeleter } from './client';
import { sha256Digest } from './digest';
import { OCI_CONFIG, OCI_MANIFEST } from './media-types';
import { executePush, planPush } from './push';
import { writeTestLayout } from './layout.testing';

const FAST_RETRY = { attempts: 4, baseDelayMs: 20, maxDelayMs: 100, deadlineMs: 10_000 };

function blob(bytes: number): BlobSource & { data: Buffer } {
  const data = randomBytes(bytes);
  // Small pieces, so a dropped connection really lands in the middle of the body.
  const pieces = (from = 0, to = data.length - 1) => Readable.from(chunks(data.subarray(from, to + 1), 16 * 1024));
  return { data, digest: sha256Digest(data), size: data.length, open: () => pieces(), openRange: (s, e) => pieces(s, e) };
}
function* chunks(data: Buffer, size: number) {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** A small manifest that references one real blob (distribution checks references on PUT). */
async function smallManifest(client: RegistryClient, repo: string): Promise<Buffer> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  await client.blobUpload(repo, { digest: sha256Digest(config), size: config.length, open: () => Readable.from([config]) });
  return Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: sha256Digest(config), size: config.length }, layers: [] }),
  );
}

// Interoperability: the same suite against distribution 2.8 (Debian) and distribution 3 (pinned
// Go build from the test tools); a missing distribution 3 fails here with how to install it.
describe.each(REGISTRY_FLAVORS)('registry client against a real registry (%s)', (flavor) => {
  let registry: TestRegistry;
  let client: RegistryClient & TagDeleter;
  const requests: string[] = [];

  beforeAll(async () => {
    registry = await startTestRegistry({ flavor });
    client = createRegistryClient({ registry: registry.host, onRequest: (m, u, s) => requests.push(`${m} ${new URL(u).pathname} ${s}`) });
  });
  afterAll(() => registry?.stop());

  it('pings over plain HTTP on loopback', async () => {
    expect(client.baseUrl).toBe(`http://${registry.host}`);
    await expect(client.ping()).resolves.toMatchObject({ apiVersion: 'registry/2.0' });
    expect(createRegistryClient({ registry: 'registry.example.com' }).baseUrl).toBe('https://registry.example.com');
    expect(createRegistryClient({ registry: 'docker.io' }).baseUrl).toBe('https://registry-1.docker.io');
    expect(createRegistryClient({ registry: 'build-box:5000', insecure: true }).baseUrl).toBe('http://build-box:5000');
  });

  it('uploads, heads, mounts and streams blobs back', async () => {
    const small = blob(10_000);
    expect(await client.blobHead('t/blobs', small.digest)).toBe('not-found');
    expect(await client.blobUpload('t/blobs', small)).toBe('uploaded');
    expect(await client.blobUpload('t/blobs', small)).toBe('already-exists');
    expect(await client.blobHead('t/blobs', small.digest)).toEqual({ size: small.size });
    expect((await readAll(await client.blobGet('t/blobs', small.digest))).equals(small.data)).toBe(true);
    expect(await client.blobMount('t/other', 't/blobs', small.digest)).toBe('mounted');
    expect(await client.blobMount('t/other', 't/blobs', sha256Digest('nothing'))).toBe('not-mounted');
    await expect(client.blobGet('t/blobs', sha256Digest('nothing'))).rejects.toMatchObject({ kind: 'registry', message: expect.stringMatching(/does not exist/) });
  });

  it('uploads large blobs in PATCH chunks', async () => {
    const log: string[] = [];
    const chunked = createRegistryClient({ registry: registry.host, chunkSizeBytes: 100_000, onRequest: (m) => log.push(m) });
    const big = blob(350_000);
    expect(await chunked.blobUpload('t/chunks', big)).toBe('uploaded');
    expect(log).toEqual(['HEAD', 'POST', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PUT']);
    expect(createHash('sha256').update(await readAll(await client.blobGet('t/chunks', big.digest))).digest('hex')).toBe(big.digest.slice(7));
  });

  it('puts, gets, heads and deletes manifests byte for byte', async () => {
    const body = await smallManifest(client, 't/manifests');
    const { digest } = await client.manifestPut('t/manifests', 'v1', body, OCI_MANIFEST);
    expect(digest).toBe(sha256Digest(body));
    const got = await client.manifestGet('t/manifests', 'v1');
    expect(got).toMatchObject({ mediaType: OCI_MANIFEST, digest });
    expect(got !== 'not-found' && got.body.equals(body)).toBe(true);
    expect(await client.manifestHead('t/manifests', digest)).toEqual({ mediaType: OCI_MANIFEST, digest, size: body.length });
    expect(await client.manifestGet('t/manifests', 'nope')).toBe('not-found');
    expect(await client.manifestHead('t/unknown-repo', 'v1')).toBe('not-found');
    expect(await client.manifestDelete('t/manifests', digest)).toBe('deleted');
    expect(await client.manifestDelete('t/manifests', digest)).toBe('not-found');
    expect(await client.manifestHead('t/manifests', 'v1')).toBe('not-found');
    await expect(client.manifestPut('t/manifests', 'bad tag', body, OCI_MANIFEST)).rejects.toMatchObject({ kind: 'input' });
    await expect(client.manifestPut('t/manifests', sha256Digest('other'), body, OCI_MANIFEST)).rejects.toMatchObject({ kind: 'input' });
  });

  it('names the missing content when a manifest PUT is refused', async () => {
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: sha256Digest('absent'), size: 6 }, layers: [] }),
    );
    await expect(client.manifestPut('t/manifests', 'broken', manifest, OCI_MANIFEST)).rejects.toMatchObject({
      kind: 'registry',
      message: expect.stringMatching(/400.*BLOB_UNKNOWN/),
      hint: expect.stringMatching(/blobs first/),
    });
  });

  it('lists tags and repositories, passing n', async () => {
    const body = await smallManifest(client, 't/list');
    for (const tag of ['a', 'b', 'c']) await client.manifestPut('t/list', tag, body, OCI_MANIFEST);
    requests.length = 0;
    expect((await client.tagList('t/list', { pageSize: 2 })).sort()).toEqual(['a', 'b', 'c']);
    expect(await client.tagList('t/never-pushed')).toEqual([]);
    // distribution 3 lists only repositories that hold a manifest (t/blobs holds blobs only).
    expect(await client.catalogList()).toEqual(expect.arrayContaining(flavor === 'distribution3' ? ['t/list'] : ['t/list', 't/blobs']));
    expect(requests[0]).toMatch(/^GET \/v2\/t\/list\/tags\/list 200$/);
  });

  it('pages tag and catalog lists by n and last where the registry honours them', async () => {
    const body = await smallManifest(client, 't/paged');
    const tags = ['t1', 't2', 't3', 't4', 't5'];
    for (const tag of tags) await client.manifestPut('t/paged', tag, body, OCI_MANIFEST);
    requests.length = 0;
    expect((await client.tagList('t/paged', { pageSize: 2 })).sort()).toEqual(tags);
    const tagPages = requests.filter((r) => r.startsWith('GET /v2/t/paged/tags/list'));
    requests.length = 0;
    const repositories = await client.catalogList({ pageSize: 1 });
    expect(repositories).toEqual(expect.arrayContaining(['t/paged', 't/list', 't/manifests']));
    expect(new Set(repositories).size).toBe(repositories.length);
    const catalogPages = requests.filter((r) => r.startsWith('GET /v2/_catalog'));
    // distribution 2.8 ignores n on tags/list (one page of 5); both page the catalog by n and last.
    expect(tagPages).toHaveLength(flavor === 'distribution3' ? 3 : 1);
    expect(catalogPages.length).toBeGreaterThanOrEqual(repositories.length);
  });

  it('deletes a tag by name on distribution 3 and says unsupported on 2.8', async () => {
    const body = await smallManifest(client, 't/untag');
    const { digest } = await client.manifestPut('t/untag', 'keep', body, OCI_MANIFEST);
    await client.manifestPut('t/untag', 'drop', body, OCI_MANIFEST);
    expect(canDeleteTags(client)).toBe(true);
    const outcome = await client.tagDelete('t/untag', 'drop');
    if (flavor === 'distribution3') {
      expect(outcome).toBe('deleted');
      expect((await client.tagList('t/untag')).sort()).toEqual(['keep']);
      expect(await client.tagDelete('t/untag', 'drop')).toBe('not-found');
    } else {
      expect(outcome).toBe('unsupported');
      expect((await client.tagList('t/untag')).sort()).toEqual(['drop', 'keep']);
    }
    // The manifest itself stays, under the tag that was kept.
    expect(await client.manifestHead('t/untag', 'keep')).toMatchObject({ digest });
    await expect(client.tagDelete('t/untag', digest)).rejects.toMatchObject({ kind: 'input' });
  });

  it('authenticates through the Authenticator contract and says what to do on 401', async () => {
    const htpasswd = await writeHtpasswd({ ci: 's3cret-pass' });
    const secured = await startTestRegistry({ flavor, extraConfig: htpasswd.yaml }).catch(async (error: unknown) => {
      await htpasswd.remove();
      throw error;
    });
    try {
      const calls: string[][] = [];
      const authenticator: Authenticator = {
        cached: () => undefined,
        authorize: async (_registry, challenge, scopes) => {
          calls.push([challenge.split(' ')[0], ...scopes]);
          return `Basic ${Buffer.from('ci:s3cret-pass').toString('base64')}`;
        },
        secrets: () => ['s3cret-pass'],
      };
      const authed = createRegistryClient({ registry: secured.host, authenticator });
      const small = blob(100);
      expect(await authed.blobUpload('t/auth', small)).toBe('uploaded');
      expect(calls[0]).toEqual(['Basic', 'repository:t/auth:pull']);
      expect(calls).toContainEqual(['Basic', 'repository:t/auth:pull,push']);
      expect(await authed.blobMount('t/auth2', 't/auth', small.digest)).toBe('mounted');
      expect(calls.at(-1)).toEqual(['Basic', 'repository:t/auth2:pull,push', 'repository:t/auth:pull']);

      const anonymous = createRegistryClient({ registry: secured.host });
      await expect(anonymous.blobHead('t/auth', small.digest)).rejects.toMatchObject({
        kind: 'auth',
        message: expect.stringMatching(/refused HEAD blob .* \(401/),
        hint: 'Set AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD or run `nx run registry:login`.',
      });
      const wrong = createRegistryClient({ registry: secured.host, authenticator: { ...authenticator, authorize: async () => 'Basic eDp5' } });
      await expect(wrong.ping()).rejects.toMatchObject({ kind: 'auth', message: expect.stringMatching(/credentials rejected/) });
    } finally {
      await secured.stop();
      await htpasswd.remove();
    }
  });
});

describe('registry client with faults', () => {
  let registry: TestRegistry;
  let proxy: FaultProxy | undefined;

  beforeAll(async () => {
    registry = await startTestRegistry();
  });
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });
  afterAll(() => registry?.stop());

  const through = async (rules: Parameters<typeof startFaultProxy>[0]['faults'], extra: Partial<RegistryClientOptions> = {}) => {
    proxy = await startFaultProxy({ target: registry.url, faults: rules });
    const statuses: number[] = [];
    const client = createRegistryClient({ registry: proxy.host, retry: FAST_RETRY, onRequest: (_m, _u, s) => statuses.push(s), ...extra });
    return { client, statuses, proxy };
  };

  it('retries 503s with backoff', async () => {
    const { client, statuses } = await through([faults.status(503, { method: 'HEAD', times: 2 })]);
    expect(await client.blobHead('f/x', sha256Digest('x'))).toBe('not-found');
    expect(statuses).toEqual([503, 503, 404]);
  });

  it('honours Retry-After on 429', async () => {
    const { client, statuses } = await through([faults.status(429, { path: '/v2/', times: 1 }, 1)]);
    const started = Date.now();
    await client.ping();
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(statuses).toEqual([429, 200]);
  });

  it('gives up on a registry that keeps failing, with a bounded number of attempts', async () => {
    const { client, statuses } = await through([faults.status(503, { times: Infinity })]);
    await expect(client.ping()).rejects.toMatchObject({
      kind: 'registry',
      message: expect.stringMatching(/answered 503 .*UNAVAILABLE: injected 503 \(gave up after 4 attempts\)/),
      hint: expect.stringMatching(/failing/),
    });
    expect(statuses).toHaveLength(FAST_RETRY.attempts);
  });

  it('retries a slow answer that timed out', async () => {
    const { client, statuses } = await through([faults.delay(1500, { method: 'HEAD', times: 1 })], { requestTimeoutMs: 300 });
    expect(await client.blobHead('f/slow', sha256Digest('x'))).toBe('not-found');
    expect(statuses).toEqual([0, 404]);
  });

  it('retries connections reset before an answer', async () => {
    const { client, statuses } = await through([faults.reset({ method: 'GET', times: 2 })]);
    await client.ping();
    expect(statuses).toEqual([0, 0, 200]);
  });

  it('restarts a monolithic upload whose connection dropped mid-body', async () => {
    const { client, proxy } = await through([faults.drop(40_000, { method: 'PUT', path: '/blobs/uploads/', times: 1 })]);
    const data = blob(120_000);
    expect(await client.blobUpload('f/mono', data)).toBe('uploaded');
    expect(proxy.log.filter((r) => r.fault)).toEqual([expect.objectContaining({ method: 'PUT', fault: 'drop@40000' })]);
    expect((await readAll(await client.blobGet('f/mono', data.digest))).equals(data.data)).toBe(true);
  });

  it('recovers a chunked upload whose connection dropped mid-chunk', async () => {
    const { client, proxy } = await through([faults.drop(50_000, { method: 'PATCH', skip: 2, times: 1 })], { chunkSizeBytes: 100_000 });
    const data = blob(450_000);
    expect(await client.blobUpload('f/chunked', data)).toBe('uploaded');
    // distribution 2.8 cancels a session whose stored size no longer matches its signed state
    // ("upload resumed at wrong offset"), so after asking (GET) the client opens a new one.
    const methods = proxy.log.map((r) => r.method);
    expect(methods).toEqual(['HEAD', 'POST', 'PATCH', 'PATCH', 'PATCH', 'HEAD', 'GET', 'POST', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PUT']);
    expect((await readAll(await client.blobGet('f/chunked', data.digest))).equals(data.data)).toBe(true);
  });

  it('resumes from the Range the registry reports when it keeps the session (spec behaviour)', async () => {
    // distribution cannot show this (see above), so a minimal upload endpoint that follows the
    // spec's "Resuming / Retrieving upload status": GET → 204 with Range 0-<last byte stored>.
    let stored = Buffer.alloc(0);
    const patches: string[] = [];
    let finished: string | undefined;
    let dropped = false;
    const server: Server = createServer((req, res) => {
      const url = new URL(req.url ?? '', 'http://x');
      const range = () => ({ location: '/v2/r/blobs/uploads/1', range: `0-${Math.max(stored.length - 1, 0)}`, 'content-length': '0' });
      if (req.method === 'HEAD') return res.writeHead(404, { 'content-length': '0' }).end();
      if (req.method === 'POST') return res.writeHead(202, range()).end();
      if (req.method === 'GET') return res.writeHead(204, range()).end();
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => {
        parts.push(part);
        if (req.method === 'PATCH' && patches.length === 3 && !dropped && Buffer.concat(parts).length >= 30_000) {
          dropped = true;
          stored = Buffer.concat([stored, Buffer.concat(parts).subarray(0, 30_000)]);
          req.socket.destroy();
        }
      });
      req.on('end', () => {
        const body = Buffer.concat(parts);
        if (req.method === 'PATCH') {
          patches.push(String(req.headers['content-range']));
          stored = Buffer.concat([stored, body]);
          return res.writeHead(202, range()).end();
        }
        finished = url.searchParams.get('digest') ?? undefined;
        res.writeHead(sha256Digest(stored) === finished ? 201 : 400, { 'content-length': '0' }).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const client = createRegistryClient({ registry: `127.0.0.1:${(server.address() as AddressInfo).port}`, chunkSizeBytes: 100_000, retry: FAST_RETRY });
      const data = blob(450_000);
      expect(await client.blobUpload('r', data)).toBe('uploaded');
      expect(finished).toBe(data.digest);
      expect(stored.equals(data.data)).toBe(true);
      // the 4th chunk broke after 30 000 bytes; the client resumed at 330 000, nothing re-sent
      expect(patches).toEqual(['0-99999', '100000-199999', '200000-299999', '330000-429999', '430000-449999']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('pushes a whole image through 503s, 429s and a dropped upload and ends with an intact image', async () => {
    const image = await writeTestLayout({ platforms: ['linux/amd64', 'linux/arm64'], layerBytes: 150_000 });
    try {
      const { client, proxy } = await through([
        faults.status(503, { method: 'HEAD', skip: 1, times: 2 }),
        faults.status(429, { method: 'POST', skip: 1, times: 1 }, 1),
        faults.drop(60_000, { method: 'PUT', path: '/blobs/uploads/', skip: 1, times: 1 }),
        faults.status(503, { method: 'PUT', path: '/manifests/', times: 1 }),
      ]);
      const plan = await planPush(client, image.layout, { repository: 'f/image', tags: ['1.0.0', 'latest'] });
      const result = await executePush(client, plan);
      expect(result.tags.map((t) => t.status)).toEqual(['created', 'created']);
      expect(proxy.log.filter((r) => r.fault).map((r) => r.fault)).toEqual(['respond 503', 'respond 503', 'respond 429', 'drop@60000', 'respond 503']);
      const raw = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/f/image:latest`]);
      expect(sha256Digest(raw.stdout)).toBe(image.digest);
      await exec('skopeo', ['copy', '--all', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${registry.host}/f/image:1.0.0`, `docker://${registry.host}/f/verified:1`]);
    } finally {
      await rm(image.dir, { recursive: true, force: true });
    }
  });

  it('reports garbage answers clearly', async () => {
    const digest = sha256Digest('whatever');
    const { client } = await through([
      faults.respond(200, '<html>login</html>', { 'content-type': 'text/html' }, { method: 'GET', path: '/manifests/v1' }),
      faults.respond(200, 'not json', { 'content-type': 'application/json' }, { path: '/tags/list' }),
      faults.respond(200, JSON.stringify({ tags: 'x' }), { 'content-type': 'application/json' }, { path: '/tags/list' }),
      faults.respond(200, 'tampered', { 'content-type': 'application/octet-stream' }, { method: 'GET', path: `/blobs/${digest}` }),
      faults.respond(201, '', { 'docker-content-digest': sha256Digest('other') }, { method: 'PUT', path: '/manifests/' }),
      faults.respond(200, JSON.stringify({ schemaVersion: 2 }), { 'content-type': OCI_MANIFEST }, { method: 'GET', path: `/manifests/${digest}` }),
    ]);
    await expect(client.manifestGet('g/x', 'v1')).rejects.toMatchObject({ kind: 'registry', message: expect.stringMatching(/invalid answer .*expected a JSON manifest, got "<html>login/) });
    await expect(client.tagList('g/x')).rejects.toThrow(/invalid answer to listing tags of g\/x: expected JSON/);
    await expect(client.tagList('g/x')).rejects.toThrow(/"tags" is not a list of strings/);
    await expect(readAll(await client.blobGet('g/x', digest))).rejects.toThrow(/the bytes hash to sha256:/);
    await expect(client.manifestPut('g/x', 'v1', Buffer.from('{"schemaVersion":2}'), OCI_MANIFEST)).rejects.toThrow(/it stored digest sha256:.* for bytes that hash to/);
    await expect(client.manifestGet('g/x', digest)).rejects.toThrow(/the manifest hashes to/);
  });

  it('follows Link headers across every page', async () => {
    const seen: string[] = [];
    const all = Array.from({ length: 7 }, (_, i) => `t${i}`);
    const server: Server = createServer((req, res) => {
      seen.push(req.url ?? '');
      const url = new URL(req.url ?? '', 'http://x');
      const n = Number(url.searchParams.get('n'));
      const last = url.searchParams.get('last');
      const start = last ? all.indexOf(last) + 1 : 0;
      const page = all.slice(start, start + n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (start + n < all.length) headers.link = `</v2/p/tags/list?n=${n}&last=${page.at(-1)}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify({ name: 'p', tags: page }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const client = createRegistryClient({ registry: `127.0.0.1:${(server.address() as AddressInfo).port}` });
      expect(await client.tagList('p', { pageSize: 3 })).toEqual(all);
      expect(seen).toEqual(['/v2/p/tags/list?n=3', '/v2/p/tags/list?n=3&last=t2', '/v2/p/tags/list?n=3&last=t5']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('stops on a Link loop', async () => {
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', link: '</v2/p/tags/list?n=1>; rel="next"' }).end('{"tags":["a"]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const client = createRegistryClient({ registry: `127.0.0.1:${(server.address() as AddressInfo).port}` });
      await expect(client.tagList('p', { pageSize: 1 })).rejects.toThrow(/pagination does not end/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('fails clearly after bounded retries when the registry is down', async () => {
    const down = await startTestRegistry();
    const host = down.host;
    await down.stop();
    const statuses: number[] = [];
    const client = createRegistryClient({ registry: host, retry: FAST_RETRY, onRequest: (_m, _u, s) => statuses.push(s) });
    const started = Date.now();
    await expect(client.ping()).rejects.toMatchObject({
      kind: 'registry',
      message: `registry ${host} is not reachable (ECONNREFUSED) after 4 attempts on GET /v2/`,
      hint: 'Start it with `nx run registry:serve` or set AUREN_REGISTRY.',
    });
    expect(statuses).toEqual([0, 0, 0, 0]);
    expect(Date.now() - started).toBeLessThan(FAST_RETRY.deadlineMs);
  });

  it('maps 405 on delete to unsupported', async () => {
    const { client } = await through([
      faults.respond(405, JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] }), {}, { method: 'DELETE' }),
    ]);
    expect(await client.manifestDelete('f/x', sha256Digest('x'))).toBe('unsupported');
  });
});
