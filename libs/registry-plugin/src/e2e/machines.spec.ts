// @auren-test-tools trivy (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * Any machine, same result: the state of a release is git tags plus the
 * registry. Each "machine" here is a clone with its own Nx cache folder and its own buildah
 * storage, so nothing one machine built can leak into another through a shared cache; they share
 * only the registry, the git history (a clone carries the release tags) and, for machine D, an
 * Nx remote cache server. Everything is real: git, Nx, buildah, distribution.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtemp, readdir, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import execa from 'execa';
import { createRegistryClient, type RegistryClient } from '../lib/registry/client';
import { freePort, startTestRegistry, type TestRegistry } from '../testing/registry-server.testing';
import { cloneClone, cloneWorkspace, enableMission, stripAnsi, WORKSPACE_ROOT, type WorkspaceClone } from './workspace.testing';

const APPS = ['auren-api', 'biometric-bridge', 'auren-nginx'] as const;
const REPOS = ['base-debian', ...APPS];
const STEP = 45 * 60_000;
// Machine A releases, so it writes the remote cache; machine D only reads it (a pull request's
// or a laptop's token): tools/nx-cache-server/README.md.
const WRITE_TOKEN = 'machines-spec-cache-write-token';
const READ_TOKEN = 'machines-spec-cache-read-token';

let registry: TestRegistry;
let client: RegistryClient;
let cacheServer: { url: string; process: ChildProcess; dir: string };
const scratch: string[] = [];
let a: WorkspaceClone;
let b: WorkspaceClone;
/** repository → released digest (v0.1.0), as machine A pushed it. */
const released: Record<string, string> = {};

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** What makes a machine: its own Nx cache and its own buildah storage. */
async function machineEnv(name: string): Promise<NodeJS.ProcessEnv> {
  return {
    AUREN_REGISTRY: `${registry.host}/auren`,
    // Convergence does not depend on the platform list; one platform keeps four machines' builds
    // within CI's time (multi-arch.spec.ts builds and runs the arm64 variants).
    AUREN_PLATFORMS: 'linux/amd64',
    NX_CACHE_DIRECTORY: await tempDir(`auren-nx-cache-${name}-`),
    STORAGE_DRIVER: 'overlay',
    AUREN_BUILDAH_ROOT: join(await tempDir(`auren-buildah-${name}-`), 'root'),
  };
}

/** `git clone` of another machine's workspace: its commits and its release tags, nothing else. */
async function cloneMachine(from: WorkspaceClone, env: NodeJS.ProcessEnv): Promise<WorkspaceClone> {
  // A machine reads the remote cache only when a test gives it one (machine D): A's own setting
  // does not travel with the clone.
  const { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: _server, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: _token, ...inherited } = from.env;
  const ws = await cloneClone(from, env, inherited);
  scratch.push(ws.dir);
  // setup.sh runs `npm ci` when the lockfile is newer than node_modules; the shared node_modules
  // is current, and npm ci through the symlink would empty it.
  await utimes(join(ws.dir, 'package-lock.json'), new Date(0), new Date(0));
  return ws;
}

async function npmStart(ws: WorkspaceClone, extraEnv: NodeJS.ProcessEnv = {}) {
  await utimes(join(ws.dir, 'package-lock.json'), new Date(0), new Date(0));
  const result = await execa('npm', ['start'], { cwd: ws.dir, env: { ...ws.env, ...extraEnv }, reject: false, all: true });
  return { ...result, all: stripAnsi(result.all ?? '') };
}

function expectOk(result: { exitCode: number; all?: string }, what: string): void {
  if (result.exitCode !== 0) throw new Error(`${what} failed (${result.exitCode}):\n${(result.all ?? '').slice(-8000)}`);
}

function expectFailed(result: { exitCode: number; all?: string }, what: string): void {
  if (result.exitCode === 0) throw new Error(`${what} succeeded, but should have failed:\n${(result.all ?? '').slice(-8000)}`);
}

/** Every tag of every repository in the registry → digest. */
async function registryTags(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const repo of await client.catalogList()) {
    for (const tag of await client.tagList(repo)) {
      const head = await client.manifestHead(repo, tag);
      if (head !== 'not-found') out[`${repo}:${tag}`] = head.digest;
    }
  }
  return out;
}

/** Every blob file in the registry's storage: an upload adds one. */
async function registryBlobs(): Promise<string[]> {
  const root = join(registry.dataDir, 'docker', 'registry', 'v2', 'blobs');
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else found.push(join(dir, entry.name).slice(root.length));
    }
  };
  await walk(root);
  return found.sort();
}

async function imageRecordDigest(ws: WorkspaceClone, project: string): Promise<string> {
  return (JSON.parse(await readFile(join(ws.dir, 'dist', 'images', project, 'image.json'), 'utf8')) as { digest: string }).digest;
}

async function startCacheServer(): Promise<typeof cacheServer> {
  const dir = await tempDir('auren-remote-cache-');
  const child = spawn(process.execPath, [join(WORKSPACE_ROOT, 'tools', 'nx-cache-server', 'server.mjs'), '--dir', dir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NX_CACHE_WRITE_TOKENS: WRITE_TOKEN, NX_CACHE_READ_TOKENS: READ_TOKEN },
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`nx-cache-server exited (${code})`)));
    lines.on('line', (line) => {
      const match = /listening on (\S+)/.exec(line);
      if (match) resolve(match[1]);
    });
  });
  return { url, process: child, dir };
}

const remoteCacheEnv = (token: string) => ({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: cacheServer.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token });

beforeAll(async () => {
  registry = await startTestRegistry();
  client = createRegistryClient({ registry: registry.host });
  cacheServer = await startCacheServer();
  a = await cloneWorkspace({ ...(await machineEnv('a')), ...remoteCacheEnv(WRITE_TOKEN) });
}, 120_000);

afterAll(async () => {
  cacheServer?.process.kill();
  await registry?.stop();
  await a?.remove();
  // A build killed by a timeout can leave overlay mounts behind: unmount them before removing.
  for (const dir of scratch) {
    if (dir.includes('auren-buildah-')) await execa('buildah', ['--root', join(dir, 'root'), '--runroot', `${join(dir, 'root')}.run`, '--storage-driver', 'overlay', 'unmount', '--all'], { reject: false });
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
});

describe('any machine converges on the same release', () => {
  it('machine A: npm start builds, scans (the served database), signs and releases the base image and every app', async () => {
    await enableMission(a);
    expectOk(await npmStart(a), 'npm start on machine A');
    for (const repo of REPOS) {
      const head = await client.manifestHead(`auren/${repo}`, 'v0.1.0');
      if (head === 'not-found') throw new Error(`auren/${repo}:v0.1.0 was not pushed`);
      released[repo] = head.digest;
    }
    expect((await a.git('tag', '--list')).split('\n').filter(Boolean).sort()).toEqual(
      ['auren-api@0.1.0', 'auren-nginx@0.1.0', 'base-image@0.1.0', 'biometric-bridge@0.1.0'],
    );
  }, STEP);

  it('machine B (a clone with the tags, empty caches): npm start finds the release complete, writes the push records from the registry, and builds, fetches, uploads and tags nothing', async () => {
    const tagsBefore = await registryTags();
    const blobsBefore = await registryBlobs();
    b = await cloneMachine(a, await machineEnv('b'));
    const result = await npmStart(b);
    expectOk(result, 'npm start on machine B');
    expect(result.all).toContain('start: this commit is released, and every image is complete in the registry');
    for (const project of ['base-image', ...APPS]) {
      const repo = project === 'base-image' ? 'base-debian' : project;
      expect(result.all).toContain(`${project}: 0.1.0 is complete in the registry (${registry.host}/auren/${repo}@${released[repo]})`);
      const record = JSON.parse(await readFile(join(b.dir, 'dist', 'images', project, 'push.json'), 'utf8')) as { digest: string; scan: { verdict: string }; supplyChain: { signature: { status: string } } };
      expect(record).toMatchObject({ digest: released[repo], scan: { verdict: expect.stringMatching(/^(pass|warn)$/) }, supplyChain: { signature: { status: 'signed' } } });
    }
    expect(result.all).not.toMatch(/: built sha256:|is released; fetched|nx run-many/);
    expect(await registryBlobs()).toEqual(blobsBefore);
    expect(await registryTags()).toEqual(tagsBefore);
  }, STEP);

  it('machine B with AUREN_FULL_RUN=1: the whole pipeline fetches each release instead of building it, exits 0, uploads no blob, changes no tag', async () => {
    const tagsBefore = await registryTags();
    const blobsBefore = await registryBlobs();
    const result = await npmStart(b, { AUREN_FULL_RUN: '1' });
    expectOk(result, 'AUREN_FULL_RUN=1 npm start on machine B');
    for (const project of ['base-image', ...APPS]) {
      expect(result.all).toMatch(new RegExp(`${project}: version 0\\.1\\.0 is released; fetched `));
    }
    expect(result.all).not.toMatch(/: built sha256:/);
    expect(await registryBlobs()).toEqual(blobsBefore);
    expect(await registryTags()).toEqual(tagsBefore);
  }, STEP);

  it('machine B: a commit touching only apps/auren-api, then nx affected with another empty cache, tags auren-api only', async () => {
    const before = await registryTags();
    await b.commit('fix(api): clearer health message', { 'apps/auren-api/auren/api/config.py': '\n# health message\n' });
    const nxCache = await tempDir('auren-nx-cache-b2-');
    const result = await b.nx(['affected', '-t', 'docker-push', '--base=HEAD~1', '--head=HEAD'], { NX_CACHE_DIRECTORY: nxCache });
    expectOk(result, 'nx affected -t docker-push on machine B');
    const after = await registryTags();
    const changed = Object.keys(after).filter((key) => after[key] !== before[key]).map((key) => key.split(':')[0]);
    expect(new Set(changed)).toEqual(new Set(['auren/auren-api', 'auren/auren-history']));
    expect(after['auren/auren-api:v0.1.1']).toBeDefined();
    for (const key of Object.keys(before)) if (!key.startsWith('auren/auren-api:') && !key.startsWith('auren/auren-history:')) expect(after[key]).toBe(before[key]);
  }, STEP);

  it('a clean machine rebuilds each released app (--rebuild --skip-nx-cache) to its released digest', async () => {
    const c = await cloneMachine(a, await machineEnv('c'));
    for (const app of APPS) {
      const result = await c.nx(['run', `${app}:docker-build`, '--rebuild', '--skip-nx-cache']);
      expectOk(result, `nx run ${app}:docker-build --rebuild on machine C`);
      expect(result.all).toMatch(new RegExp(`${app}: built sha256:`));
      expect(await imageRecordDigest(c, app)).toBe(released[app]);
    }
  }, STEP);

  it('a machine that cannot read the registry stops at once: nothing is built, the error names the release and --rebuild', async () => {
    // Nothing listens on this port: a registry that is down (an untrusted CA or refused
    // credentials take the same path). The push would fail for the same reason, minutes later.
    const down = `127.0.0.1:${await freePort()}`;
    const e = await cloneMachine(a, { ...(await machineEnv('e')), AUREN_REGISTRY: `${down}/auren` });
    const result = await e.nx(['run', 'base-image:docker-build']);
    expectFailed(result, 'nx run base-image:docker-build against a registry that is down');
    expect(result.all).toContain(`base-image: version 0.1.0 is released, but ${down}/auren/base-debian:v0.1.0 could not be read`);
    expect(result.all).toContain('nx run base-image:docker-build --rebuild');
    expect(result.all).not.toMatch(/: built sha256:|mmdebstrap/);
    const storage = e.env.AUREN_BUILDAH_ROOT as string;
    const images = await execa('buildah', ['--root', storage, '--runroot', `${storage}.run`, '--storage-driver', 'overlay', 'images', '--all', '--quiet'], { reject: false });
    expect(images.stdout.trim()).toBe('');
    await e.remove();
  }, STEP);

  it('machine D (empty local cache, machine A\'s remote cache): docker-build and scan come from the remote cache, nothing is rebuilt', async () => {
    const d = await cloneMachine(a, await machineEnv('d'));
    const files = APPS.map((app) => `apps/${app}/project.json`).join(',');
    const result = await d.nx(['affected', '-t', 'docker-push', `--files=${files}`], remoteCacheEnv(READ_TOKEN));
    expectOk(result, 'nx affected -t docker-push on machine D');
    for (const app of APPS) {
      for (const target of ['docker-build', 'scan']) {
        expect(result.all).toMatch(new RegExp(`nx run ${app}:${target}\\s+\\[remote cache\\]`));
      }
      expect(await imageRecordDigest(d, app)).toBe(released[app]);
    }
    // Nx replays a restored task's stored output (machine A's build log), so "nothing rebuilt" is
    // read from machine D's own builder storage: it holds no image, not even a cached layer.
    const storage = d.env.AUREN_BUILDAH_ROOT as string;
    const images = await execa('buildah', ['--root', storage, '--runroot', `${storage}.run`, '--storage-driver', 'overlay', 'images', '--all', '--quiet'], { reject: false });
    expect(images.stdout.trim()).toBe('');
    expect(result.all).toMatch(/Nx read the output from the cache instead of running the command for 8 out of 12 tasks/);
  }, STEP);
});
