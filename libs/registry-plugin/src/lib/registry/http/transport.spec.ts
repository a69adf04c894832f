import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect as connectNet, createServer as createNetServer, type AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { writeHtpasswd, type HtpasswdFixture } from '../../../testing/htpasswd.testing';
import { type TestRegistry, startTestRegistries } from '../../../testing/registry-server.testing';
import { createTestPki, type TestPki } from '../../../testing/tls-certs.testing';
import type { AurenConfig } from '../../config/options';
import { insecureRegistriesFor } from '../../pipeline/build';
import { connectRegistry } from '../../connect/connect';
import { createAuthenticator } from '../auth/authenticator';
import { createRegistryClient, probeRegistryScheme } from '../client';
import { sha256Digest } from '../digest';
import { executePush, planPush } from '../push';
import { writeTestLayout, type TestLayout } from '../layout.testing';
import { createDispatcher } from '../tls';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe('credentials never leave their registry', () => {
  // A registry front that requires Basic auth and, like DOCR, GHCR or Docker Hub, answers blob
  // GETs with 307 to a storage origin (another port); the storage records what reaches it.
  const blob = Buffer.from('layer bytes served by the storage backend');
  const digest = sha256Digest(blob);
  const secret = 'front-door-s3cret';
  const reachedStorage: IncomingHttpHeaders[] = [];
  const reachedFront: IncomingHttpHeaders[] = [];
  let front: Server;
  let storage: Server;
  let frontPort: number;
  let storagePort: number;

  beforeAll(async () => {
    storage = createServer((req, res) => {
      reachedStorage.push(req.headers);
      if (req.url?.startsWith('/signed/') && req.url.includes('sig=')) res.writeHead(200, { 'content-length': blob.length }).end(blob);
      else res.writeHead(404).end();
    });
    storagePort = await listen(storage);
    front = createServer((req, res) => {
      reachedFront.push(req.headers);
      if (req.headers.authorization !== `Basic ${Buffer.from(`ci:${secret}`).toString('base64')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="front"', 'docker-distribution-api-version': 'registry/2.0' }).end();
        return;
      }
      if (req.url === `/v2/auren/api/blobs/${digest}`) {
        res.writeHead(307, { location: `http://127.0.0.1:${storagePort}/signed/${digest.slice(7)}?sig=abc` }).end();
        return;
      }
      if (req.url === '/v2/auren/api/blobs/sha256:' + '0'.repeat(64)) {
        // A redirect back to the same origin keeps the credentials (it is the same registry).
        res.writeHead(307, { location: `/v2/auren/api/blobs/${digest}` }).end();
        return;
      }
      res.writeHead(404).end();
    });
    frontPort = await listen(front);
  });
  afterAll(async () => {
    await Promise.all([close(front), close(storage)]);
  });

  it('follows a blob redirect to another origin without the Authorization header', async () => {
    const client = createRegistryClient({
      registry: `127.0.0.1:${frontPort}`,
      authenticator: createAuthenticator({ credentials: { username: 'ci', password: secret }, env: {} }),
    });
    expect(await readAll(await client.blobGet('auren/api', digest))).toEqual(blob);
    expect(reachedFront.some((h) => h.authorization?.startsWith('Basic '))).toBe(true);
    expect(reachedStorage).toHaveLength(1);
    expect(reachedStorage[0].authorization).toBeUndefined();
    expect(JSON.stringify(reachedStorage)).not.toContain(Buffer.from(`ci:${secret}`).toString('base64'));

    // Same-origin hop then cross-origin hop: credentials on the first, never on the second.
    reachedFront.length = 0;
    reachedStorage.length = 0;
    await expect(readAll(await client.blobGet('auren/api', `sha256:${'0'.repeat(64)}`))).rejects.toMatchObject({ message: expect.stringMatching(/hash to/) });
    expect(reachedFront.filter((h) => h.authorization)).toHaveLength(2);
    expect(reachedStorage.map((h) => h.authorization)).toEqual([undefined]);
  });
});

describe('a TLS registry on a loopback address', () => {
  const password = 'tls-loopback-pa55word';
  let pki: TestPki;
  let tls: TestRegistry;
  let plain: TestRegistry;
  let image: TestLayout;
  let htpasswd: HtpasswdFixture | undefined;

  beforeAll(async () => {
    pki = await createTestPki();
    htpasswd = await writeHtpasswd({ ci: password });
    [tls, plain] = await startTestRegistries({ httpExtra: pki.tlsYaml, extraConfig: htpasswd.yaml }, {});
    image = await writeTestLayout({ platforms: ['linux/amd64', 'linux/arm64'] });
  });
  afterAll(async () => {
    await Promise.all([tls?.stop(), plain?.stop()]);
    await htpasswd?.remove();
    if (image) await rm(image.dir, { recursive: true, force: true });
    if (pki) await rm(pki.dir, { recursive: true, force: true });
  });

  it('is reached over HTTPS with its CA trusted; the push works and the password shows nowhere', async () => {
    const dispatcher = createDispatcher({ registry: tls.host, caFile: pki.caCert, certsDirs: [], env: {} });
    const urls: string[] = [];
    const client = createRegistryClient({
      registry: tls.host,
      dispatcher,
      authenticator: createAuthenticator({ credentials: { username: 'ci', password }, env: {}, dispatcher }),
      onRequest: (method, url, status) => urls.push(`${method} ${url} ${status}`),
    });
    const plan = await planPush(client, image.layout, { repository: 'auren/api', tags: ['1.0.0'] });
    const result = await executePush(client, plan);
    expect(client.baseUrl).toBe(`https://${tls.host}`);
    expect(urls.every((u) => u.includes(`https://${tls.host}/`))).toBe(true);
    expect(await client.manifestHead('auren/api', '1.0.0')).toMatchObject({ digest: image.layout.digest });

    const wrong = createRegistryClient({
      registry: tls.host,
      dispatcher,
      authenticator: createAuthenticator({ credentials: { username: 'ci', password: `${password}-wrong` }, env: {}, dispatcher }),
    });
    const refused = await wrong.ping().catch((error: Error) => error);
    expect(refused).toMatchObject({ kind: 'auth' });
    const output = [JSON.stringify(plan), JSON.stringify(result), ...urls, String(refused), (refused as { hint?: string }).hint].join('\n');
    expect(output).not.toContain(password);
    expect(output).not.toContain(Buffer.from(`ci:${password}`).toString('base64'));
  });

  it('is what connectRegistry (every command) reaches with AUREN_REGISTRY_* credentials and the CA in NODE_EXTRA_CA_CERTS', async () => {
    const config = { registry: tls.host, insecureRegistries: [], caFile: undefined } as unknown as AurenConfig;
    const env = { HOME: pki.dir, DOCKER_CONFIG: pki.dir, NODE_EXTRA_CA_CERTS: pki.caCert, AUREN_REGISTRY_USERNAME: 'ci', AUREN_REGISTRY_PASSWORD: password };
    const client = await connectRegistry(config, env);
    expect(await client.tagList('auren/api')).toEqual(['1.0.0']);
    expect(client.baseUrl).toBe(`https://${tls.host}`);
    const plainClient = await connectRegistry({ ...config, registry: plain.host } as AurenConfig, env);
    await plainClient.ping();
    expect(plainClient.baseUrl).toBe(`http://${plain.host}`);
  });

  it('never falls back to plain HTTP on a certificate error', async () => {
    const urls: string[] = [];
    const untrusting = createRegistryClient({
      registry: tls.host,
      dispatcher: createDispatcher({ registry: tls.host, certsDirs: [], env: {} }),
      authenticator: createAuthenticator({ credentials: { username: 'ci', password }, env: {} }),
      retry: { attempts: 1 },
      onRequest: (method, url, status) => urls.push(`${method} ${url} ${status}`),
    });
    await expect(untrusting.ping()).rejects.toMatchObject({ kind: 'registry', message: expect.stringMatching(/TLS with registry .* failed/) });
    expect(untrusting.baseUrl).toBe(`https://${tls.host}`);
    expect(urls.some((u) => u.includes('http://'))).toBe(false);
  });

  it('finds out once how a loopback registry speaks, however many requests start together', async () => {
    // A TCP relay in front of each registry counts the connections that open with a TLS hello.
    for (const registry of [plain, tls]) {
      let hellos = 0;
      const relay = createNetServer((inbound) => {
        const outbound = connectNet(registry.port, '127.0.0.1');
        inbound.once('data', (first: Buffer) => {
          if (first[0] === 0x16) hellos++;
          outbound.write(first);
          inbound.pipe(outbound).pipe(inbound);
        });
        inbound.on('error', () => outbound.destroy());
        outbound.on('error', () => inbound.destroy());
      });
      const port = await listen(relay as unknown as Server);
      try {
        const host = `127.0.0.1:${port}`;
        const client = createRegistryClient({ registry: host, dispatcher: createDispatcher({ registry: host, caFile: pki.caCert, env: {} }), authenticator: createAuthenticator({ credentials: { username: 'ci', password }, env: {} }) });
        const answers = await Promise.all(Array.from({ length: 5 }, () => client.manifestHead('auren/none', 'latest')));
        expect(answers).toEqual(Array(5).fill('not-found'));
        expect(client.baseUrl).toBe(`${registry === plain ? 'http' : 'https'}://${host}`);
        // Plain HTTP: one request tried TLS, the others waited for its answer. TLS: every
        // connection is TLS, and the five requests needed at least one.
        if (registry === plain) expect(hellos).toBe(1);
        else expect(hellos).toBeGreaterThanOrEqual(1);
      } finally {
        await close(relay as unknown as Server);
      }
    }
  });

  it('tells the builder which loopback registries speak plain HTTP', async () => {
    expect(await probeRegistryScheme(tls.host)).toBe('https');
    expect(await probeRegistryScheme(plain.host)).toBe('http');
    expect(await probeRegistryScheme('registry.example.com')).toBe('https');
    const config = { registry: tls.host, insecureRegistries: [], caFile: pki.caCert } as unknown as AurenConfig;
    expect(await insecureRegistriesFor(config, [`${plain.host}/auren/base:1`, `${tls.host}/auren/base:1`], {})).toEqual([plain.host]);
    const listed = { ...config, insecureRegistries: ['build-box:5000'] } as AurenConfig;
    expect(await insecureRegistriesFor(listed, ['build-box:5000/auren/base:1'], {})).toEqual(['build-box:5000']);
  });
});
