// @auren-test-tools trivy crane (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * A TLS registry on a loopback address, tried as a new user would: a
 * port-forward or SSH tunnel to a real registry looks like `127.0.0.1:<port>` speaking HTTPS with
 * a private CA and asking for a password. The CA reaches the pipeline the way container tools
 * expect it (a certs.d folder for the host:port, and NODE_EXTRA_CA_CERTS), the credentials through
 * AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD. `npm start` must push every image over HTTPS,
 * and the password must never show: not in the output, not in any file the run leaves behind.
 * Everything is real: distribution with TLS and htpasswd, buildah, Nx, git; crane (with the CA
 * through SSL_CERT_FILE) reads back what was pushed.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import execa from 'execa';
import { createAuthenticator } from '../lib/registry/auth';
import { createRegistryClient, probeRegistryScheme, type RegistryClient } from '../lib/registry/client';
import { createDispatcher } from '../lib/registry/tls';
import type { PushRecord } from '../lib/reports/records';
import { writeHtpasswd } from '../testing/htpasswd.testing';
import { startTestRegistry, type TestRegistry } from '../testing/registry-server.testing';
import { createTestPki, type TestPki } from '../testing/tls-certs.testing';
import { cloneWorkspace, stripAnsi, WORKSPACE_ROOT, type WorkspaceClone } from './workspace.testing';

const APPS = ['auren-api', 'biometric-bridge', 'auren-nginx'] as const;
const PROJECTS = ['base-image', ...APPS] as const;
const REPOS: Record<(typeof PROJECTS)[number], string> = {
  'base-image': 'base-debian',
  'auren-api': 'auren-api',
  'biometric-bridge': 'biometric-bridge',
  'auren-nginx': 'auren-nginx',
};
const STEP = 60 * 60_000;
const USER = 'tunnel-user';
// Distinctive, so a leak anywhere is found by a plain substring search.
const PASSWORD = `Tls-${randomBytes(12).toString('hex')}`;
/** Every form a leak could take: the password, its base64, and the Basic credential. */
const SECRET_FORMS = [
  PASSWORD,
  Buffer.from(PASSWORD).toString('base64'),
  Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
];

let pki: TestPki;
let registry: TestRegistry;
let client: RegistryClient;
let ws: WorkspaceClone;
let configHome: string;
let buildahRoot: string;
/** Set once npm start pushed everything: the last step needs the released images. */
let released = false;
const scratch: string[] = [];

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** The tools the tests use at their pinned versions (setup.sh --test-tools), first on PATH. */
const toolPath = () => `${join(WORKSPACE_ROOT, 'tools', '.bin')}:${process.env.PATH}`;

async function npmStart(extraEnv: NodeJS.ProcessEnv = {}) {
  // setup.sh runs `npm ci` when the lockfile is newer than node_modules; through the clone's
  // node_modules symlink that would empty the shared one.
  await utimes(join(ws.dir, 'package-lock.json'), new Date(0), new Date(0));
  const result = await execa('npm', ['start'], { cwd: ws.dir, env: { ...ws.env, ...extraEnv }, reject: false, all: true });
  return { ...result, all: stripAnsi(result.all ?? '') };
}

function expectOk(result: { exitCode: number; all?: string }, what: string): void {
  if (result.exitCode !== 0) throw new Error(`${what} failed (${result.exitCode}):\n${(result.all ?? '').slice(-8000)}`);
}

/** Files under `dir` (symlinks not followed: node_modules is the shared workspace's). */
async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) found.push(path);
    }
  };
  await walk(dir);
  return found;
}

/** Which files hold any form of the secret (read as bytes: OCI blobs are binary). */
async function filesWithSecret(dirs: string[]): Promise<string[]> {
  const leaks: string[] = [];
  for (const dir of dirs) {
    for (const file of await filesUnder(dir)) {
      const bytes = await readFile(file);
      if (SECRET_FORMS.some((form) => bytes.includes(form))) leaks.push(file);
    }
  }
  return leaks;
}

/** A docker config.json for crane: it reads credentials there, never from our variables. */
async function craneEnv(): Promise<NodeJS.ProcessEnv> {
  const dir = await tempDir('auren-tls-crane-');
  const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }), { mode: 0o600 });
  return { ...process.env, PATH: toolPath(), DOCKER_CONFIG: dir, SSL_CERT_FILE: pki.caCert };
}

beforeAll(async () => {
  pki = await createTestPki();
  scratch.push(pki.dir);
  const htpasswd = await writeHtpasswd({ [USER]: PASSWORD }, { dir: await tempDir('auren-tls-htpasswd-') });
  registry = await startTestRegistry({ httpExtra: pki.tlsYaml, extraConfig: htpasswd.yaml });
  client = createRegistryClient({
    registry: registry.host,
    insecure: false,
    dispatcher: createDispatcher({ registry: registry.host, caFile: pki.caCert, certsDirs: [], env: {} }),
    authenticator: createAuthenticator({ credentials: { username: USER, password: PASSWORD }, env: {} }),
  });

  // A private certs.d (XDG_CONFIG_HOME/containers/certs.d, which containers/image and the plugin
  // read), so nothing machine-wide changes for the other tests running beside this one.
  configHome = await tempDir('auren-tls-xdg-');
  const hostDir = join(configHome, 'containers', 'certs.d', registry.host);
  await mkdir(hostDir, { recursive: true });
  await copyFile(pki.caCert, join(hostDir, 'ca.crt'));

  ws = await cloneWorkspace({
    AUREN_REGISTRY: `${registry.host}/auren`,
    AUREN_REGISTRY_USERNAME: USER,
    AUREN_REGISTRY_PASSWORD: PASSWORD,
    NODE_EXTRA_CA_CERTS: pki.caCert,
    XDG_CONFIG_HOME: configHome,
    // This test is about the transport, not platforms: one platform keeps the builds short
    // (e2e/multi-arch.spec.ts covers arm64).
    AUREN_PLATFORMS: 'linux/amd64',
    // Its own image store: other builds on this machine share /var/lib/containers, and one of
    // them pruning layers must not break this build's export.
    STORAGE_DRIVER: 'overlay',
    AUREN_BUILDAH_ROOT: (buildahRoot = join(await tempDir('auren-tls-buildah-'), 'root')),
    // The per-layer export cache (lib/layer-cache, tested on its own) is beside the point here,
    // and shared with every other clone on this machine.
    AUREN_LAYER_CACHE: 'false',
    // A fixed commit date gives the imported commit the same hash on every run, so docker-build
    // (whose inputs include the project's last commit) comes from the shared Nx cache when this
    // spec ran before on the same sources.
    GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
    GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
  });
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  await ws?.remove();
  // A build killed by a timeout can leave overlay mounts behind: unmount them before removing.
  if (buildahRoot) await execa('buildah', ['--root', buildahRoot, '--runroot', `${buildahRoot}.run`, '--storage-driver', 'overlay', 'unmount', '--all'], { reject: false });
  for (const dir of scratch) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

describe('a TLS registry on 127.0.0.1 with a private CA and a password', () => {
  let output = '';

  it('speaks only HTTPS, so the client must not assume plain HTTP for a loopback address', async () => {
    expect(await probeRegistryScheme(registry.host, { dispatcher: createDispatcher({ registry: registry.host, caFile: pki.caCert, certsDirs: [], env: {} }) })).toBe('https');
    await expect(fetch(`http://${registry.host}/v2/`).then((r) => r.status)).resolves.toBe(400);
  });

  it('npm start with AUREN_REGISTRY=127.0.0.1:<port>/auren pushes the base image and every app', async () => {
    const result = await npmStart();
    output = result.all;
    expectOk(result, 'npm start against the TLS loopback registry');
    expect(output).toContain(`start: using AUREN_REGISTRY=${registry.host}/auren`);
    expect(output).not.toMatch(/answered 400/);

    const env = await craneEnv();
    for (const project of PROJECTS) {
      const repository = `auren/${REPOS[project]}`;
      const record = JSON.parse(await readFile(join(ws.dir, 'dist', 'images', project, 'push.json'), 'utf8')) as PushRecord;
      expect(record).toMatchObject({ registry: registry.host, repository, dryRun: false });
      expect(record.tags).toContain('v0.1.0');
      // Our client (with the CA and the password) and crane (CA through SSL_CERT_FILE,
      // credentials from its own config) agree with the push record.
      const head = await client.manifestHead(repository, 'v0.1.0');
      expect(head === 'not-found' ? head : head.digest).toBe(record.digest);
      const { stdout } = await execa('crane', ['digest', `${registry.host}/${repository}:v0.1.0`], { env });
      expect(stdout.trim()).toBe(record.digest);
      await execa('crane', ['validate', '--remote', `${registry.host}/${repository}@${record.digest}`], { env });
    }
    released = true;
  }, STEP);

  it('never shows the password: not in the output, not in any file under dist/ or .auren/', async () => {
    expect(output).not.toBe('');
    for (const form of SECRET_FORMS) expect(output).not.toContain(form);
    const dirs = [join(ws.dir, 'dist'), join(ws.dir, '.auren')];
    expect((await lstat(dirs[0])).isDirectory()).toBe(true);
    expect(await filesWithSecret(dirs)).toEqual([]);
    // Nor anywhere else in the clone (git history, Nx workspace data, tmp/): node_modules is a
    // symlink and is not followed.
    expect(await filesWithSecret([ws.dir])).toEqual([]);
  }, STEP);

  it('without the CA nothing falls back to plain HTTP: docker-push fails naming TLS trust, and no tag changes', async () => {
    if (!released) throw new Error('needs the images npm start released (the step above failed)');
    const tagsBefore = await client.tagList('auren/auren-api');
    const result = await ws.nx(['run', 'auren-api:docker-push', '--skip-nx-cache'], { NODE_EXTRA_CA_CERTS: '', XDG_CONFIG_HOME: await tempDir('auren-tls-empty-xdg-') });
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/TLS with registry 127\.0\.0\.1:\d+ failed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    expect(result.all).toContain("Trust the registry's CA");
    expect(result.all).not.toMatch(/answered 400|HTTP request to an HTTPS server/);
    for (const form of SECRET_FORMS) expect(result.all).not.toContain(form);
    expect(await client.tagList('auren/auren-api')).toEqual(tagsBefore);
  }, STEP);
});
