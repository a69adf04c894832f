import { readFile, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Agent } from 'undici';
import { startHostileRegistry, type HostileRegistry, type Misbehaviour } from '../../../testing/hostile-registry.testing';
import { createTestPki, type TestPki } from '../../../testing/tls-certs.testing';
import { AurenError } from '../../errors/errors';
import { createAuthenticator } from '../auth/authenticator';
import { createRegistryClient, type RegistryClientOptions } from '../client';
import { sha256Digest } from '../digest';

/**
 * The attacker is the registry (or whoever answers in its place): credentials go to the
 * registry's own origin and to the token realm its own challenge named, nowhere else.
 */
const CREDENTIALS = { username: 'alice', password: 's3cret-registry-pw' };
const FAST_RETRY = { attempts: 2, baseDelayMs: 5, maxDelayMs: 10, deadlineMs: 5_000 };
const layer = Buffer.from('layer bytes the attacker would like to see');
const layerDigest = sha256Digest(layer);

let pki: TestPki;
let agent: Agent;
const servers: HostileRegistry[] = [];

beforeAll(async () => {
  pki = await createTestPki();
  agent = new Agent({ connect: { ca: await readFile(pki.caCert, 'utf8') } });
});
afterAll(async () => {
  await agent.close();
  await rm(pki.dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function start(options: Parameters<typeof startHostileRegistry>[0] = {}): Promise<HostileRegistry> {
  const server = await startHostileRegistry(options);
  servers.push(server);
  return server;
}

async function tls(options: Parameters<typeof startHostileRegistry>[0] = {}): Promise<HostileRegistry> {
  return start({ ...options, tls: { cert: await readFile(pki.serverCert, 'utf8'), key: await readFile(pki.serverKey, 'utf8') } });
}

function client(registry: HostileRegistry, extra: Partial<RegistryClientOptions> = {}) {
  return createRegistryClient({
    registry: registry.host,
    insecure: !registry.origin.startsWith('https'),
    dispatcher: agent,
    authenticator: createAuthenticator({ credentials: CREDENTIALS, dispatcher: agent }),
    retry: FAST_RETRY,
    ...extra,
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

const source = () => ({ digest: layerDigest, size: layer.length, open: () => Readable.from([layer]) });

describe('upload Location on another origin', () => {
  it('is used without the registry credentials', async () => {
    const foreign = await start();
    foreign.misbehave(({ method }) => (method === 'PUT' ? { kind: 'respond', status: 201, headers: { 'docker-content-digest': layerDigest } } : undefined));
    const registry = await start({ basicAuth: CREDENTIALS, uploadLocation: (id) => `${foreign.origin}/uploads/${id}` });

    await expect(client(registry).blobUpload('app', source(), { checkExists: false })).resolves.toBe('uploaded');
    expect(foreign.requests.map((r) => r.method)).toEqual(['PUT']);
    expect(foreign.authorized()).toEqual([]);
    // The registry itself did get them: the credentials were in play.
    expect(registry.authorized().length).toBeGreaterThan(0);
  });

  it('is refused when an HTTPS registry hands out a plain-HTTP Location on its own address', async () => {
    const plain = await start();
    const registry = await tls({ basicAuth: CREDENTIALS, uploadLocation: (id) => `http://${plain.host}/v2/app/blobs/uploads/${id}` });

    const error = await client(registry).blobUpload('app', source(), { checkExists: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).message).toMatch(/plain HTTP/);
    expect(plain.requests).toEqual([]);
  });
});

describe('redirects', () => {
  it('a blob GET redirected to another origin (a CDN) is followed without credentials', async () => {
    const cdn = await start();
    cdn.misbehave(() => ({ kind: 'respond', status: 200, headers: { 'content-length': String(layer.length) }, body: layer }));
    const registry = await start({ basicAuth: CREDENTIALS });
    registry.misbehave(({ path, headers }) =>
      path.includes('/blobs/') && headers.authorization ? { kind: 'redirect', location: `${cdn.origin}/signed/blob?sig=abc`, status: 307 } : undefined,
    );

    const body = await readAll(await client(registry).blobGet('app', layerDigest));
    expect(body.equals(layer)).toBe(true);
    expect(cdn.requests).toHaveLength(1);
    expect(cdn.authorized()).toEqual([]);
  });

  it('an HTTPS registry redirecting a blob to plain HTTP is refused', async () => {
    const plain = await start();
    plain.misbehave(() => ({ kind: 'respond', status: 200, body: layer }));
    const registry = await tls({ basicAuth: CREDENTIALS });
    registry.misbehave(({ path, headers }) => (path.includes('/blobs/') && headers.authorization ? { kind: 'redirect', location: `${plain.origin}/blob` } : undefined));

    const error = await client(registry).blobGet('app', layerDigest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).message).toMatch(/plain HTTP/);
    expect(plain.authorized()).toEqual([]);
  });

  it('a redirect target answering 401 with its own token realm gets neither credentials nor a token fetched with them', async () => {
    const foreign = await start();
    foreign.misbehave(({ path }): Misbehaviour =>
      path.startsWith('/token')
        ? { kind: 'respond', status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'stolen' }) }
        : { kind: 'respond', status: 401, headers: { 'www-authenticate': `Bearer realm="${foreign.origin}/token",service="evil"` } },
    );
    // An anonymous-pull registry: the only challenge the client sees is the foreign one.
    const registry = await start();
    registry.misbehave(({ path }) => (path.includes('/blobs/') ? { kind: 'redirect', location: `${foreign.origin}/blob` } : undefined));

    const error = await client(registry).blobGet('app', layerDigest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).kind).toBe('auth');
    expect(foreign.authorized()).toEqual([]);
    expect(foreign.requests.filter((r) => r.path.startsWith('/token'))).toEqual([]);
  });

  it('a redirect target answering 401 with a Basic challenge does not get Basic credentials', async () => {
    const foreign = await start();
    foreign.misbehave(() => ({ kind: 'respond', status: 401, headers: { 'www-authenticate': 'Basic realm="evil"' } }));
    const registry = await start();
    registry.misbehave(({ path }) => (path.includes('/blobs/') ? { kind: 'redirect', location: `${foreign.origin}/blob` } : undefined));

    await expect(client(registry).blobGet('app', layerDigest)).rejects.toThrow(AurenError);
    expect(foreign.authorized()).toEqual([]);
    expect(registry.authorized()).toEqual([]);
  });
});

describe('token realms', () => {
  it("an HTTPS registry's challenge naming a plain-HTTP realm is refused, not answered in cleartext", async () => {
    const realm = await start();
    realm.misbehave(() => ({ kind: 'respond', status: 200, headers: { 'content-type': 'application/json' }, body: '{"token":"t"}' }));
    const registry = await tls();
    registry.misbehave(({ headers }) =>
      headers.authorization ? undefined : { kind: 'respond', status: 401, headers: { 'www-authenticate': `Bearer realm="${realm.origin}/token",service="r"` } },
    );

    const error = await client(registry).manifestGet('app', 'v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).message).toMatch(/plain HTTP/);
    expect(realm.requests).toEqual([]);
  });

  it('the realm named by the registry itself gets the credentials (control)', async () => {
    const realm = await start();
    realm.misbehave(() => ({ kind: 'respond', status: 200, headers: { 'content-type': 'application/json' }, body: '{"token":"granted"}' }));
    const registry = await start();
    registry.misbehave(({ headers }) =>
      headers.authorization === 'Bearer granted'
        ? undefined
        : { kind: 'respond', status: 401, headers: { 'www-authenticate': `Bearer realm="${realm.origin}/token",service="r"` } },
    );

    await expect(client(registry).manifestGet('app', 'v1')).resolves.toBe('not-found');
    expect(realm.authorized()).toHaveLength(1);
  });
});

describe('tag-list pagination', () => {
  it('a Link to another origin is refused before anything is sent there', async () => {
    const foreign = await start();
    const registry = await start({ basicAuth: CREDENTIALS });
    registry.misbehave(({ path, headers }) =>
      path.includes('/tags/list') && headers.authorization
        ? {
            kind: 'respond',
            status: 200,
            headers: { 'content-type': 'application/json', link: `<${foreign.origin}/v2/app/tags/list?last=a>; rel="next"` },
            body: JSON.stringify({ name: 'app', tags: ['a'] }),
          }
        : undefined,
    );

    await expect(client(registry).tagList('app')).rejects.toThrow(/another origin/);
    expect(foreign.requests).toEqual([]);
  });
});
