/**
 * The registry client in the real world: real CNCF distribution registries on free ports, real
 * multi-platform buildah builds, each auth scheme distribution supports (htpasswd, TLS with a
 * CA made here, token auth with an issuer started here), a proxy that misbehaves on schedule,
 * and the real `auren-registry` CLI as a child process. skopeo is the independent reader: what
 * it sees must be byte for byte what we built.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { createBuilder } from '../lib/builders';
import { normalizeOptions } from '../lib/config/options';
import { AurenError } from '../lib/errors/errors';
import { exec } from '../lib/exec/exec';
import { promoteImage } from '../lib/promote';
import { createAuthenticator } from '../lib/registry/auth';
import { createRegistryClient, type RegistryClient, type RetryOptions } from '../lib/registry/client';
import { readOciLayout, type OciLayout } from '../lib/registry/layout';
import { executePush, planPush } from '../lib/registry/push';
import { writeTestLayout } from '../lib/registry/layout.testing';
import { createDispatcher } from '../lib/registry/tls';
import mirrorExecutor from '../executors/mirror/executor';
import { faults, startFaultProxy, type FaultProxy } from '../testing/fault-proxy.testing';
import { FAST_RETRY, pushThroughFaults } from '../testing/fault-scenario.testing';
import { writeHtpasswd } from '../testing/htpasswd.testing';
import { startTestRegistry, type TestRegistry } from '../testing/registry-server.testing';
import { createTestPki, type TestPki } from '../testing/tls-certs.testing';
import { startTokenIssuer, type TokenIssuer } from '../testing/token-issuer.testing';

const workspaceRoot = join(__dirname, '..', '..', '..', '..');
const CLI = join(workspaceRoot, 'libs/registry-plugin/bin/auren-registry.js');
const USER = 'deployer';
// Distinctive, so a leak anywhere is found by a plain substring search.
const PASSWORD = `Pw-${randomBytes(12).toString('hex')}`;
const WRONG_PASSWORD = `Wrong-${randomBytes(12).toString('hex')}`;
/** Fast retries: the schedules below need a handful, not the production minutes. */

const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const temp = (prefix: string) => mkdtemp(join(tmpdir(), prefix));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function registry(options: Parameters<typeof startTestRegistry>[0] = {}): Promise<TestRegistry> {
  const started = await startTestRegistry(options);
  cleanups.push(() => started.stop());
  return started;
}

interface SkopeoAuth {
  args: string[];
}

/** The digest skopeo computes over the raw manifest it reads (independent of our client). */
async function skopeoDigest(ref: string, auth: SkopeoAuth = { args: ['--tls-verify=false'] }): Promise<string> {
  const { stdout } = await exec('skopeo', ['inspect', '--raw', ...auth.args, `docker://${ref}`], { redact: [PASSWORD] });
  return sha256(stdout);
}

async function skopeoAuthfile(host: string, password = PASSWORD): Promise<string> {
  const dir = await temp('auren-authfile-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'auth.json');
  await writeFile(path, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${USER}:${password}`).toString('base64') } } }), { mode: 0o600 });
  return path;
}

function push(client: RegistryClient, layout: OciLayout, repository: string, tags: string[]) {
  return planPush(client, layout, { repository, tags }).then((plan) => executePush(client, plan));
}

/** Every manifest of `layout` (index and children) resolves in `ref`'s repository with the same digest. */
async function expectAllDigests(host: string, repository: string, layout: OciLayout, auth?: SkopeoAuth): Promise<void> {
  for (const manifest of layout.manifests) {
    expect(await skopeoDigest(`${host}/${repository}@${manifest.digest}`, auth)).toBe(manifest.digest);
  }
}

// ------------------------------------------------------------------ a real two-platform image

let built: { dir: string; layout: OciLayout };

async function buildTwoPlatformImage(): Promise<{ dir: string; layout: OciLayout }> {
  const dir = await temp('auren-world-build-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const context = join(dir, 'context');
  await mkdir(context);
  for (const arch of ['amd64', 'arm64']) {
    await writeFile(join(context, `hello-${arch}.txt`), `hello from the registry world on ${arch} ${randomBytes(4).toString('hex')}\n`);
  }
  // No RUN step: buildah assembles a foreign-platform image without QEMU. The file differs per
  // platform because buildah 1.28 with --layers gives platform builds of identical content one
  // image ID, and the manifest list then holds a single platform.
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nARG TARGETARCH\nCOPY hello-${TARGETARCH}.txt /hello.txt\n');
  const outputDir = join(dir, 'oci');
  // A private image store: other builds on this machine share /var/lib/containers, and one of
  // them pruning layers must not break this build (or this build's cache feed theirs).
  const storage = join(dir, 'storage');
  await mkdir(storage);
  await writeFile(
    join(storage, 'storage.conf'),
    ['[storage]', 'driver = "vfs"', `runroot = "${join(storage, 'run')}"`, `graphroot = "${join(storage, 'graph')}"`, ''].join('\n'),
  );
  await createBuilder('buildah').build({
    context,
    dockerfile: join(context, 'Dockerfile'),
    buildArgs: {},
    labels: { 'org.opencontainers.image.title': 'registry-world' },
    platforms: ['linux/amd64', 'linux/arm64'],
    target: undefined,
    outputDir,
    insecureRegistries: [],
    certDir: undefined,
    cacheFrom: [],
    cacheTo: [],
    timestamp: 0,
    localName: `localhost/auren-e2e/registry-world:${randomBytes(6).toString('hex')}`,
    env: { ...process.env, CONTAINERS_STORAGE_CONF: join(storage, 'storage.conf') },
    verbose: false,
  });
  return { dir, layout: await readOciLayout(outputDir) };
}

describe('a real two-platform image', () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let upstream: TestRegistry;

  beforeAll(async () => {
    [built, a, b, upstream] = await Promise.all([buildTwoPlatformImage(), registry(), registry(), registry()]);
  }, 90_000);

  it('was built by buildah as an OCI index of two platforms', () => {
    expect(built.layout.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(built.layout.platforms.sort()).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('is pushed, promoted to another tag and copied to a second registry with every digest unchanged', async () => {
    const requests: string[] = [];
    const clientA = createRegistryClient({ registry: a.host, onRequest: (m, url) => requests.push(`${m} ${new URL(url).pathname}`) });
    await push(clientA, built.layout, 'auren/world', ['v1.0.0']);
    const config = normalizeOptions({ registry: a.host, namespace: 'auren' }, {});
    const log: string[] = [];

    requests.length = 0;
    const retag = await promoteImage({
      request: { source: { registry: a.host, repository: 'auren/world', reference: 'v1.0.0' }, target: { registry: a.host, repository: 'auren/world', tags: ['stable', 'latest'] } },
      config,
      env: {},
      dryRun: false,
      log: (line) => log.push(line),
      connect: async () => clientA,
    });
    expect(retag.plan.mode).toBe('retag');
    // Same registry, same repository: manifest PUTs only, nothing uploaded.
    expect(requests.filter((r) => !r.startsWith('GET') && !r.startsWith('HEAD'))).toEqual(['PUT /v2/auren/world/manifests/stable', 'PUT /v2/auren/world/manifests/latest']);

    const copy = await promoteImage({
      request: { source: { registry: a.host, repository: 'auren/world', reference: 'stable' }, target: { registry: b.host, repository: 'prod/world', tags: ['v1.0.0', 'latest'] } },
      config,
      env: {},
      dryRun: false,
      log: (line) => log.push(line),
    });
    expect(copy.plan.mode).toBe('copy');
    expect(copy.result).toMatchObject({ uploaded: built.layout.blobs.length, mounted: 0 });
    expect(log[0]).toMatch(/^promote .*auren\/world:v1\.0\.0 \(linux\/(amd64|arm64), linux\/(amd64|arm64)\)/);

    for (const ref of [`${a.host}/auren/world:v1.0.0`, `${a.host}/auren/world:stable`, `${a.host}/auren/world:latest`, `${b.host}/prod/world:v1.0.0`, `${b.host}/prod/world:latest`]) {
      expect(await skopeoDigest(ref)).toBe(built.layout.digest);
    }
    await expectAllDigests(b.host, 'prod/world', built.layout);
    // Every blob of both platforms arrived intact: skopeo copies the whole index out of B (it
    // verifies each blob against its digest).
    const out = await temp('auren-world-out-');
    cleanups.push(() => rm(out, { recursive: true, force: true }));
    await exec('skopeo', ['copy', '--all', '--src-tls-verify=false', `docker://${b.host}/prod/world:v1.0.0`, `oci:${out}:check`]);
    expect((await readOciLayout(out)).digest).toBe(built.layout.digest);
  });

  it('the mirror target copies it with all its platforms between two registries', async () => {
    // Upstream plays Docker Hub: the image under the names docker-compose.yml uses.
    const up = createRegistryClient({ registry: upstream.host });
    for (const [repository, tag] of [['timescale/timescaledb', 'latest-pg16'], ['library/redis', '7-alpine'], ['confluentinc/cp-kafka', '7.4.0']]) {
      await push(up, built.layout, repository, [tag]);
    }
    const root = await temp('auren-world-mirror-');
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    await copyFile(join(workspaceRoot, 'docker-compose.yml'), join(root, 'docker-compose.yml'));
    const output: string[] = [];
    const spy = jest.spyOn(console, 'info').mockImplementation((...args: unknown[]) => void output.push(args.join(' ')));
    try {
      const context = {
        root,
        cwd: root,
        isVerbose: false,
        projectName: 'registry',
        projectsConfigurations: { version: 2, projects: { registry: { root: 'tools/registry' } } },
        nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: { registry: b.host, namespace: 'auren' } }] },
      } as unknown as ExecutorContext;
      expect(await mirrorExecutor({ sourceRegistry: upstream.host }, context)).toEqual({ success: true });
    } finally {
      spy.mockRestore();
    }
    expect(output.join('\n')).toMatch(/mirror timescale\/timescaledb:latest-pg16: .*\(linux\/(amd64|arm64), linux\/(amd64|arm64)\)/);
    for (const ref of ['auren/mirror/timescale/timescaledb:latest-pg16', 'auren/mirror/redis:7-alpine', 'auren/mirror/confluentinc/cp-kafka:7.4.0']) {
      expect(await skopeoDigest(`${b.host}/${ref}`)).toBe(built.layout.digest);
    }
    await expectAllDigests(b.host, 'auren/mirror/redis', built.layout);
    const record = JSON.parse(await readFile(join(root, 'dist/mirror/mirror.json'), 'utf8'));
    expect(record.images.map((i: { pinned: string }) => i.pinned)).toEqual([
      `${b.host}/auren/mirror/timescale/timescaledb@${built.layout.digest}`,
      `${b.host}/auren/mirror/redis@${built.layout.digest}`,
      `${b.host}/auren/mirror/confluentinc/cp-kafka@${built.layout.digest}`,
    ]);
  });
});

// ------------------------------------------------------------------ auth schemes

describe('each auth scheme distribution supports', () => {
  let image: Awaited<ReturnType<typeof writeTestLayout>>;
  let basic: TestRegistry;
  let tls: TestRegistry;
  let pki: TestPki;
  let tokenRegistry: TestRegistry;
  let issuer: TokenIssuer;

  beforeAll(async () => {
    image = await writeTestLayout({ platforms: ['linux/amd64', 'linux/arm64'] });
    cleanups.push(() => rm(image.dir, { recursive: true, force: true }));
    const htpasswd = await writeHtpasswd({ [USER]: PASSWORD });
    cleanups.push(() => htpasswd.remove());
    pki = await createTestPki();
    cleanups.push(() => rm(pki.dir, { recursive: true, force: true }));
    issuer = await startTokenIssuer({ users: { [USER]: { password: PASSWORD, grants: [{ name: 'auren/*', actions: ['pull', 'push'] }] } } });
    cleanups.push(() => issuer.stop());
    [basic, tls, tokenRegistry] = await Promise.all([
      registry({ extraConfig: htpasswd.yaml }),
      registry({ httpExtra: pki.tlsYaml }),
      registry({ extraConfig: issuer.yaml }),
    ]);
  });

  const withCredentials = (host: string, password = PASSWORD) =>
    createRegistryClient({ registry: host, authenticator: createAuthenticator({ credentials: { username: USER, password }, env: {} }) });

  it('htpasswd basic auth: push with our client, read back with skopeo; wrong or missing credentials are refused clearly', async () => {
    await push(withCredentials(basic.host), image.layout, 'auren/basic', ['v1']);
    const auth = { args: ['--tls-verify=false', '--authfile', await skopeoAuthfile(basic.host)] };
    expect(await skopeoDigest(`${basic.host}/auren/basic:v1`, auth)).toBe(image.digest);
    await expectAllDigests(basic.host, 'auren/basic', image.layout, auth);

    const refused = await push(withCredentials(basic.host, WRONG_PASSWORD), image.layout, 'auren/basic', ['v2']).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AurenError);
    expect(refused).toMatchObject({ kind: 'auth', message: expect.stringMatching(/refused .*401 unauthorized, credentials rejected/), hint: expect.stringMatching(/AUREN_REGISTRY_PASSWORD/) });
    expect(JSON.stringify({ message: (refused as Error).message, hint: (refused as AurenError).hint })).not.toContain(WRONG_PASSWORD);
    await expect(createRegistryClient({ registry: basic.host }).tagList('auren/basic')).rejects.toMatchObject({ kind: 'auth' });
  });

  it('TLS with a CA the test made: our client trusts it through createDispatcher, skopeo through --cert-dir', async () => {
    const client = createRegistryClient({ registry: tls.host, insecure: false, dispatcher: createDispatcher({ registry: tls.host, caFile: pki.caCert, env: {}, certsDirs: [] }) });
    await push(client, image.layout, 'auren/tls', ['v1']);
    const certDir = await temp('auren-certdir-');
    cleanups.push(() => rm(certDir, { recursive: true, force: true }));
    await copyFile(pki.caCert, join(certDir, 'ca.crt'));
    const auth = { args: ['--cert-dir', certDir, '--tls-verify=true'] };
    expect(await skopeoDigest(`${tls.host}/auren/tls:v1`, auth)).toBe(image.digest);
    await expectAllDigests(tls.host, 'auren/tls', image.layout, auth);

    // Without the CA the failure names TLS and says how to trust the registry.
    const untrusted = createRegistryClient({ registry: tls.host, insecure: false, dispatcher: createDispatcher({ registry: tls.host, env: {}, certsDirs: [] }), retry: { attempts: 1 } });
    await expect(untrusted.tagList('auren/tls')).rejects.toMatchObject({ message: expect.stringMatching(/TLS with registry .* failed/), hint: expect.stringMatching(/caFile/) });
  });

  it('token auth with the issuer the test started: push with our client, read back with skopeo', async () => {
    await push(withCredentials(tokenRegistry.host), image.layout, 'auren/token', ['v1']);
    expect(issuer.issued.some((t) => t.access.some((a) => a.name === 'auren/token' && a.actions.includes('push')))).toBe(true);
    const auth = { args: ['--tls-verify=false', '--authfile', await skopeoAuthfile(tokenRegistry.host)] };
    expect(await skopeoDigest(`${tokenRegistry.host}/auren/token:v1`, auth)).toBe(image.digest);
    await expectAllDigests(tokenRegistry.host, 'auren/token', image.layout, auth);
    await expect(push(withCredentials(tokenRegistry.host, WRONG_PASSWORD), image.layout, 'auren/token', ['v2'])).rejects.toMatchObject({ kind: 'auth' });
  });

  // ---------------------------------------------------------------- secrets never printed

  describe('the real CLI never prints a password or token', () => {
    interface Run {
      args: string[];
      code: number;
      stdout: string;
      stderr: string;
    }
    let home: string;

    const entry = CLI;

    beforeAll(async () => {
      home = await temp('auren-cli-home-');
      cleanups.push(() => rm(home, { recursive: true, force: true }));
      await mkdir(join(home, 'work'));
    });

    function cli(args: string[], host: string, password: string): Promise<Run> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [entry, ...args], {
          cwd: join(home, 'work'),
          env: {
            PATH: process.env.PATH,
            HOME: home,
            DOCKER_CONFIG: join(home, '.docker'),
            AUREN_REGISTRY: `${host}/auren`,
            AUREN_REGISTRY_USERNAME: USER,
            AUREN_REGISTRY_PASSWORD: password,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ args, code: code ?? -1, stdout, stderr }));
      });
    }

    /** Everything a secret could leak into: both streams and every file the runs left behind. */
    async function leaks(runs: Run[]): Promise<string[]> {
      const basicHeader = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
      const wrongHeader = Buffer.from(`${USER}:${WRONG_PASSWORD}`).toString('base64');
      const texts: Array<[string, string]> = runs.flatMap((r) => [[`stdout of ${r.args.join(' ')}`, r.stdout], [`stderr of ${r.args.join(' ')}`, r.stderr]] as Array<[string, string]>);
      for (const file of await readdir(home, { recursive: true })) {
        const path = join(home, String(file));
        const content = await readFile(path).catch(() => undefined);
        if (content) texts.push([`file ${path}`, content.toString('utf8')]);
      }
      const found: string[] = [];
      for (const [where, text] of texts) {
        if (text.includes(PASSWORD) || text.includes(WRONG_PASSWORD)) found.push(`${where}: password`);
        if (text.includes(basicHeader) || text.includes(wrongHeader)) found.push(`${where}: basic credentials`);
        // A JWT (the bearer token) is three base64url parts, the first a JSON header `{"…`.
        if (/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/.test(text)) found.push(`${where}: bearer token`);
      }
      return found;
    }

    it.each([
      ['htpasswd basic auth', () => basic, 'auren/cli-basic'],
      ['token auth', () => tokenRegistry, 'auren/cli-token'],
    ])('%s: a succeeding and a failing promote and ls', async (_name, which, repository) => {
      const host = which().host;
      await push(withCredentials(host), image.layout, repository, ['v1.0.0']);
      const runs: Run[] = await Promise.all([
        cli(['promote', `${host}/${repository}:v1.0.0`, 'stable', 'latest'], host, PASSWORD),
        cli(['promote', `${host}/${repository}:v1.0.0`, 'candidate'], host, WRONG_PASSWORD),
        cli(['promote', `${host}/${repository}:v9.9.9`, 'stable'], host, PASSWORD),
      ]);
      runs.push(await cli(['ls', repository, '--json'], host, PASSWORD));
      const [ok, refused, missing, ls] = runs as [Run, Run, Run, Run];
      const show = (r: Run) => `${r.args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`;

      expect({ code: ok.code, out: ok.stdout }).toEqual({ code: 0, out: expect.stringMatching(/tag stable: create[^]*promoted .*stable \(created\), latest \(created\)/) });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/(401|refused|rejected)[^]*AUREN_REGISTRY/);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/auren\/cli-(basic|token):v9\.9\.9 does not exist/);
      expect(ls.code).toBe(0);
      expect(JSON.parse(ls.stdout).tags.map((t: { tag: string; digest: string }) => [t.tag, t.digest])).toEqual([
        ['latest', image.digest],
        ['stable', image.digest],
        ['v1.0.0', image.digest],
      ]);
      // Only where a secret was found is reported, never the output itself.
      expect(await leaks(runs)).toEqual([]);
      // The search itself finds what it looks for (a check that cannot fail proves nothing).
      const jwt = `eyJhbGciOiJFUzI1NiJ9.${Buffer.from('{"sub":"deployer"}').toString('base64url')}.c2lnbmF0dXJlLWJ5dGVz`;
      expect(await leaks([{ args: ['control'], code: 0, stdout: `pw ${PASSWORD}`, stderr: `Bearer ${jwt}` }])).toEqual(['stdout of control: password', 'stderr of control: bearer token']);
      if (process.env.AUREN_WORLD_DEBUG) console.info(runs.map(show).join('\n'));
    });
  });
});

// ------------------------------------------------------------------ faults

interface ImageSet {
  name: string;
  layout: OciLayout;
}

/**
 * A synthetic set of three images (the pipeline test pushes the real app images through the
 * same faults, see pipeline.spec.ts).
 */
async function imageSet(): Promise<ImageSet[]> {
  const set: ImageSet[] = [];
  for (const name of ['synthetic-api', 'synthetic-bridge', 'synthetic-nginx']) {
    const made = await writeTestLayout({ platforms: ['linux/amd64'], layers: 2, layerBytes: 3 * 1024 * 1024, sharedLayerBytes: 512 * 1024 });
    cleanups.push(() => rm(made.dir, { recursive: true, force: true }));
    set.push({ name, layout: made.layout });
  }
  return set;
}

describe('through a misbehaving network', () => {
  let target: TestRegistry;
  let images: ImageSet[];

  beforeAll(async () => {
    target = await registry();
    images = await imageSet();
  });

  const direct = () => createRegistryClient({ registry: target.host });
  const proxied = (proxy: FaultProxy, retry: Partial<RetryOptions> = FAST_RETRY) =>
    createRegistryClient({ registry: proxy.host, retry, requestTimeoutMs: 1_000, chunkSizeBytes: 4 * 1024 * 1024 });

  it('pushes every image intact through 503s, 429 with Retry-After, dropped uploads, resets and slow answers', async () => {
    const applied = await pushThroughFaults(target.url, images.map(({ name, layout }) => ({ repository: `auren/${name}`, layout })), ['v1.0.0', 'latest']);
    expect(applied).toEqual(['delay', 'drop', 'reset', 'respond 429', 'respond 503'].sort());
    const check = direct();
    for (const { name, layout } of images) {
      expect(await skopeoDigest(`${target.host}/auren/${name}:v1.0.0`)).toBe(layout.digest);
      expect(await skopeoDigest(`${target.host}/auren/${name}:latest`)).toBe(layout.digest);
      // distribution verified each blob's digest when the upload was committed; sizes must match too.
      for (const blob of layout.blobs) expect(await check.blobHead(`auren/${name}`, blob.digest)).toEqual({ size: blob.size });
    }
  });

  it('with the registry down for good, fails after bounded retries with a clear message and tags nothing', async () => {
    const { layout } = images[0];
    // The registry starts failing after two uploads have begun, and never recovers.
    const proxy = await startFaultProxy({ target: target.url, faults: [faults.status(503, { path: '/blobs/uploads/', skip: 2, times: Infinity })] });
    cleanups.push(() => proxy.stop());
    const started = Date.now();
    const error = await push(proxied(proxy, { ...FAST_RETRY, attempts: 3 }), layout, 'auren/down', ['v1.0.0', 'latest']).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(error).toBeInstanceOf(AurenError);
    expect(error).toMatchObject({ kind: 'registry', message: expect.stringMatching(/answered 503 .*\(gave up after 3 attempts\)/), hint: expect.stringMatching(/check its logs/) });

    // Gone entirely (connection refused): the same bounded retries, a message that says what to do.
    await proxy.stop();
    const refused = await push(proxied(proxy, { ...FAST_RETRY, attempts: 3 }), layout, 'auren/down', ['v1.0.0']).catch((e: unknown) => e);
    expect(refused).toMatchObject({ kind: 'registry', message: expect.stringMatching(/is not reachable \(ECONNREFUSED\) after 3 attempts/), hint: expect.stringMatching(/Start it|AUREN_REGISTRY/) });

    // No tag points at an incomplete image: nothing is tagged, and not even the manifest exists.
    const check = direct();
    expect(await check.tagList('auren/down')).toEqual([]);
    expect(await check.manifestHead('auren/down', layout.digest)).toBe('not-found');
    await expect(exec('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${target.host}/auren/down:v1.0.0`])).rejects.toThrow(/manifest unknown|not found/i);
  });
});
