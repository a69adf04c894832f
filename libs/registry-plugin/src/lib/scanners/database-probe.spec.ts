/**
 * The fingerprint's probe against real registries (distribution, with and without credentials
 * and TLS), and against the hostile stand-in where a real registry cannot misbehave: whatever
 * registry it meets, it names the database `resolveScanDatabase` would, the one the scan uses.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AurenConfig } from '../config/options';
import { createAuthenticator } from '../registry/auth/authenticator';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import { sha256Digest } from '../registry/digest';
import { tarOf } from '../registry/layout.testing';
import { createDispatcher } from '../registry/tls';
import { writeHtpasswd } from '../../testing/htpasswd.testing';
import { startHostileRegistry, type HostileRegistry } from '../../testing/hostile-registry.testing';
import { freePort, startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { createTestPki, type TestPki } from '../../testing/tls-certs.testing';
import { resolveScanDatabase } from './database';
import { probeScanDatabase } from './database-probe';
import { publishTrivyDb } from './trivy-db';
import { trivyDbManifest } from './trivy-db-artifact';
import type { ScanDatabase } from './types';

const USER = 'probe-user';
const PASSWORD = 'probe-secret-8c1f';
let work: string;
let env: NodeJS.ProcessEnv;
let pki: TestPki;
const registries: Array<{ stop(): Promise<void> }> = [];

type Config = Pick<AurenConfig, 'registry' | 'namespace' | 'insecureRegistries' | 'caFile'>;
const configFor = (registry: string, extra: Partial<Config> = {}): Config => ({ registry, namespace: 'auren', insecureRegistries: [], caFile: undefined, ...extra });

/** trivy reads only that the layer unpacks to metadata.json and trivy.db; the probe, only the manifest. */
async function publishDatabase(client: RegistryClient, updatedAt: string): Promise<void> {
  const metadata = JSON.stringify({ Version: 2, NextUpdate: '2099-01-01T00:00:00Z', UpdatedAt: updatedAt });
  const layer = gzipSync(await tarOf({ 'metadata.json': metadata, 'trivy.db': '' }));
  await publishTrivyDb(client, 'auren/trivy-db', { layer, updatedAt, advisories: 0 });
}

/** What the fingerprint takes of a resolved database. */
const named = (database: ScanDatabase) =>
  database.kind === 'registry' ? { kind: database.kind, reference: database.reference, digest: database.digest, ...(database.updatedAt ? { updatedAt: database.updatedAt } : {}) } : database;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'auren-db-probe-'));
  // No credentials of this machine's user: an empty docker config.
  await mkdir(join(work, 'docker'));
  env = { ...process.env, DOCKER_CONFIG: join(work, 'docker'), AUREN_REGISTRY_USERNAME: undefined, AUREN_REGISTRY_PASSWORD: undefined };
  pki = await createTestPki();
}, 60_000);

afterAll(async () => {
  await Promise.all(registries.map((r) => r.stop()));
  await Promise.all([work, pki?.dir].filter(Boolean).map((dir) => rm(dir as string, { recursive: true, force: true })));
});

async function registryWith(options: Parameters<typeof startTestRegistry>[0] = {}): Promise<TestRegistry> {
  const registry = await startTestRegistry(options);
  registries.push(registry);
  return registry;
}

describe('probeScanDatabase on a plain-HTTP loopback registry', () => {
  it('names the served database as resolveScanDatabase does, and a new one by its new digest', async () => {
    const registry = await registryWith();
    const client = createRegistryClient({ registry: registry.host });
    await publishDatabase(client, '2026-12-04T00:00:00Z');
    const config = configFor(registry.host);
    const first = await probeScanDatabase(config, 'trivy', env);
    expect(first).toEqual({ kind: 'registry', reference: `${registry.host}/auren/trivy-db`, digest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/), updatedAt: '2026-12-04T00:00:00Z' });
    expect(first).toEqual(named(await resolveScanDatabase(config, 'trivy', env, { quick: true })));
    expect(await probeScanDatabase(config, 'trivy', env)).toEqual(first);

    await publishDatabase(client, '2026-12-05T00:00:00Z');
    const second = await probeScanDatabase(config, 'trivy', env);
    expect(second).toEqual(expect.objectContaining({ kind: 'registry', updatedAt: '2026-12-05T00:00:00Z' }));
    expect((second as { digest: string }).digest).not.toBe((first as { digest: string }).digest);
    expect(second).toEqual(named(await resolveScanDatabase(config, 'trivy', env, { quick: true })));
  }, 60_000);

  it('says "local" for a namespace with no database, for grype, and for a registry that is down', async () => {
    const registry = await registryWith();
    expect(await probeScanDatabase(configFor(registry.host, { namespace: 'none-here' }), 'trivy', env)).toEqual({ kind: 'local' });
    expect(await probeScanDatabase(configFor(registry.host), 'grype', env)).toEqual({ kind: 'local' });
    expect(await probeScanDatabase(configFor(`127.0.0.1:${await freePort()}`), 'trivy', env)).toEqual({ kind: 'local' });
  }, 60_000);
});

describe('probeScanDatabase where the plain GET cannot decide', () => {
  it('asks with the registry credentials when the registry wants them, as the scan does', async () => {
    const htpasswd = await writeHtpasswd({ [USER]: PASSWORD }, { dir: await mkdtemp(join(work, 'htpasswd-')) });
    const registry = await registryWith({ extraConfig: htpasswd.yaml });
    const client = createRegistryClient({ registry: registry.host, authenticator: createAuthenticator({ credentials: { username: USER, password: PASSWORD }, env: {} }) });
    await publishDatabase(client, '2026-12-04T00:00:00Z');
    const config = configFor(registry.host);
    const withCredentials = { ...env, AUREN_REGISTRY_USERNAME: USER, AUREN_REGISTRY_PASSWORD: PASSWORD };
    const probed = await probeScanDatabase(config, 'trivy', withCredentials);
    expect(probed).toEqual(expect.objectContaining({ kind: 'registry', updatedAt: '2026-12-04T00:00:00Z' }));
    expect(probed).toEqual(named(await resolveScanDatabase(config, 'trivy', withCredentials, { quick: true })));
    // Without them the registry serves nothing to us, and the scan would not get it either.
    expect(await probeScanDatabase(config, 'trivy', env)).toEqual({ kind: 'local' });
  }, 60_000);

  it('reaches a loopback registry that speaks TLS through the configured CA', async () => {
    const registry = await registryWith({ httpExtra: pki.tlsYaml });
    const config = configFor(registry.host, { caFile: pki.caCert });
    const client = createRegistryClient({ registry: registry.host, dispatcher: createDispatcher({ registry: registry.host, caFile: pki.caCert, env }) });
    await publishDatabase(client, '2026-12-04T00:00:00Z');
    const probed = await probeScanDatabase(config, 'trivy', env);
    expect(probed).toEqual(expect.objectContaining({ kind: 'registry', reference: `${registry.host}/auren/trivy-db`, updatedAt: '2026-12-04T00:00:00Z' }));
    expect(probed).toEqual(named(await resolveScanDatabase(config, 'trivy', env, { quick: true })));
  }, 60_000);
});

describe('probeScanDatabase against a registry that misbehaves', () => {
  let hostile: HostileRegistry;
  const layer = Buffer.from('db');
  const manifest = trivyDbManifest(layer, Buffer.from('{}'), '2026-12-04T00:00:00Z');
  beforeEach(async () => {
    hostile = await startHostileRegistry();
    registries.push(hostile);
    hostile.putManifest('auren/trivy-db', '2', manifest, 'application/vnd.oci.image.manifest.v1+json');
  });

  it('asks once: one GET of the manifest, which names the database by the digest of its bytes', async () => {
    const probed = await probeScanDatabase(configFor(hostile.host), 'trivy', env);
    expect(probed).toEqual({ kind: 'registry', reference: `${hostile.host}/auren/trivy-db`, digest: sha256Digest(manifest), updatedAt: '2026-12-04T00:00:00Z' });
    expect(hostile.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v2/auren/trivy-db/manifests/2']);
  });

  it.each([
    ['a Docker-Content-Digest that the bytes do not hash to', { kind: 'respond', status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': `sha256:${'0'.repeat(64)}` }, body: manifest }],
    ['bytes that are no manifest', { kind: 'respond', status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: '<html>' }],
    ['a 500', { kind: 'respond', status: 500, body: 'down' }],
  ] as const)('takes %s for "not served", as resolveScanDatabase does', async (_what, action) => {
    hostile.misbehave((request) => (request.path.includes('/manifests/') ? action : undefined));
    const config = configFor(hostile.host);
    expect(await probeScanDatabase(config, 'trivy', env)).toEqual({ kind: 'local' });
    expect(await resolveScanDatabase(config, 'trivy', env, { quick: true })).toEqual({ kind: 'local' });
  });
});
