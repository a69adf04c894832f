// @auren-test-tools trivy (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * The plugin as another team gets it. `nx run registry-plugin:build` makes the package, which is
 * published to a real npm registry (Verdaccio, from npm) on loopback; a workspace made by
 * `create-nx-workspace` at this repository's Nx version adds it with `nx add`, makes its base
 * image, registry project and an app with the plugin's generators, commits, and runs
 * `nx affected -t docker-push` against a real distribution registry on a free port. Nothing in
 * that workspace points into this repository: node_modules is its own, installed by npm.
 *
 * Only the @auren scope comes from Verdaccio (`@auren:registry`), the way a team consumes a
 * private scope; everything else comes from npm's configured registry, which is also
 * Verdaccio's uplink. Proxying every package through a fresh Verdaccio adds about three minutes
 * to create-nx-workspace (it refetches each full packument), more than the rest of this file.
 *
 * The base image's root filesystem (mmdebstrap, minutes) is kept per machine between runs in
 * ~/.cache/auren/e2e-package-rootfs: the workspace's commits have fixed dates, so its inputs are
 * the same each run, and build-rootfs.sh rebuilds it whenever they are not (its .inputs file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import execa from 'execa';
import { createRegistryClient, type RegistryClient } from '../lib/registry/client';
import { buildFixtureDb, publishTrivyDb } from '../lib/scanners/trivy-db';
import { freePort, startTestRegistry, type TestRegistry } from '../testing/registry-server.testing';
import { stripAnsi } from './workspace.testing';

const REPO = resolve(__dirname, '../../../..');
const DIST = join(REPO, 'dist/libs/registry-plugin');
const NX_VERSION = '23.2.1';
const NAMESPACE = 'acme';
const STEP = 15 * 60_000;
const ROOTFS_CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'auren', 'e2e-package-rootfs');
const IMPORT_DATE = '2026-01-01T00:00:00Z';
const SETUP_DATE = '2026-01-02T00:00:00Z';

let work: string;
let ws: string;
let registry: TestRegistry;
let client: RegistryClient;
let verdaccio: ChildProcess | undefined;
let npmRegistry: string;
let env: NodeJS.ProcessEnv;
const started = Date.now();
const timings: string[] = [];

function lap(what: string, since: number): void {
  timings.push(`${what}: ${((Date.now() - since) / 1000).toFixed(0)} s`);
}

type Run = { exitCode: number; all: string };

async function run(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const result = await execa(file, args, { cwd: options.cwd ?? ws, env: { ...env, ...options.env }, extendEnv: false, reject: false, all: true });
  return { exitCode: result.exitCode ?? -1, all: stripAnsi(result.all ?? '') };
}

function expectOk(result: Run, what: string): void {
  if (result.exitCode !== 0) throw new Error(`${what} failed (${result.exitCode}):\n${result.all.slice(-8000)}`);
}

const nx = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
  run('npx', ['nx', ...args, ...(['g', 'generate', 'add'].includes(args[0]) ? [] : ['--outputStyle=static'])], { env: extraEnv });

const git = async (...args: string[]) => {
  const result = await run('git', args);
  expectOk(result, `git ${args.join(' ')}`);
  return result.all;
};

async function commitAll(message: string, date: string): Promise<void> {
  await git('add', '-A');
  const result = await run('git', ['commit', '-q', '-m', message], { env: { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } });
  expectOk(result, 'git commit');
}

async function startVerdaccio(dir: string, uplink: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const config = join(dir, 'verdaccio.yaml');
  await writeFile(
    config,
    [
      `storage: ${join(dir, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(dir, 'htpasswd')}`,
      '    max_users: 1',
      'uplinks:',
      '  npmjs:',
      `    url: ${uplink}`,
      'packages:',
      // Our scope is only ever what was published here, never a same-named package upstream.
      "  '@auren/*':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      '    proxy: npmjs',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const child = spawn(join(REPO, 'node_modules/.bin/verdaccio'), ['--config', config, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr?.on('data', (d) => (output = (output + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break;
    if (await fetch(`${url}-/ping`).then((r) => r.ok, () => false)) return { url, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`Verdaccio did not start on ${url}:\n${output}`);
}

/** A user for publishing: Verdaccio's htpasswd plugin creates one on `PUT /-/user/…` (npm adduser). */
async function verdaccioToken(url: string): Promise<string> {
  const response = await fetch(`${url}-/user/org.couchdb.user:e2e`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'e2e', password: 'e2e-publisher-password' }),
  });
  const body = (await response.json()) as { token?: string };
  if (!response.ok || !body.token) throw new Error(`Verdaccio refused the user (${response.status}): ${JSON.stringify(body)}`);
  return body.token;
}

function pathWithout(tool: string, path: string): string {
  return path.split(delimiter).filter((dir) => dir && !existsSync(join(dir, tool))).join(delimiter);
}

async function tags(repository: string): Promise<string[]> {
  return (await client.tagList(repository)).filter((t) => !/^sha256-[a-f0-9]{64}(\.(sig|att|sbom))?$/.test(t)).sort();
}

beforeAll(async () => {
  const t0 = Date.now();
  work = await mkdtemp(join(tmpdir(), 'auren-package-e2e-'));
  ws = join(work, 'ws');
  registry = await startTestRegistry();
  client = createRegistryClient({ registry: registry.host });
  npmRegistry = (await execa('npm', ['config', 'get', 'registry'])).stdout.trim();
  const npm = await startVerdaccio(work, npmRegistry);
  verdaccio = npm.child;
  const token = await verdaccioToken(npm.url);
  const authority = npm.url.replace(/^http:/, '');
  // Our own npm configuration: the machine's registry for everything, Verdaccio for @auren.
  const npmrc = join(work, 'npmrc');
  await writeFile(npmrc, `registry=${npmRegistry}\n@auren:registry=${npm.url}\n${authority}:_authToken=${token}\n`);
  const base: NodeJS.ProcessEnv = { ...process.env };
  // Variables of a surrounding CI run or shell must not decide this workspace's branch or registry.
  for (const key of ['GITHUB_REF_NAME', 'GITHUB_HEAD_REF', 'GITHUB_EVENT_NAME', 'AUREN_BRANCH', 'NX_DRY_RUN', 'AUREN_REGISTRY', 'NX_BASE', 'NX_HEAD', 'AUREN_TS_CACHE', 'NODE_OPTIONS']) delete base[key];
  for (const key of Object.keys(base)) if (/^npm_/i.test(key)) delete base[key];
  env = {
    ...base,
    npm_config_userconfig: npmrc,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_INTERACTIVE: 'false',
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    GIT_AUTHOR_NAME: 'Acme CI',
    GIT_AUTHOR_EMAIL: 'ci@acme.invalid',
    GIT_COMMITTER_NAME: 'Acme CI',
    GIT_COMMITTER_EMAIL: 'ci@acme.invalid',
    PATH: `${join(REPO, 'tools', '.bin')}${delimiter}${process.env.PATH}`,
    TRIVY_CACHE_DIR: join(work, 'trivy-cache'),
    AUREN_PLATFORMS: 'linux/amd64',
  };
  lap('registries', t0);

  // The package, then (in parallel) the publish, the workspace and the scanner's database.
  let t = Date.now();
  expectOk(await run('npx', ['nx', 'run', 'registry-plugin:build', '--outputStyle=static'], { cwd: REPO }), 'nx run registry-plugin:build');
  lap('nx run registry-plugin:build', t);
  t = Date.now();
  const publish = run('npm', ['publish', DIST, '--registry', npm.url], { cwd: work }).then((r) => (lap('npm publish', t), r));
  const create = () =>
    run('npx', ['-y', `create-nx-workspace@${NX_VERSION}`, 'ws', '--preset=apps', '--nxCloud=skip', '--packageManager=npm', '--no-interactive', '--skipGit'], { cwd: work });
  // The public registry sometimes lists a package whose new dependency has not reached it yet
  // (npm's ETARGET for a version published minutes ago): that is the outside world, not the
  // plugin, so the new workspace is made once more after a pause. Any other failure counts.
  const workspace = create()
    .then(async (r) => {
      if (r.exitCode === 0 || !/ETARGET|notarget/.test(r.all)) return r;
      await rm(join(work, 'ws'), { recursive: true, force: true });
      await new Promise((done) => setTimeout(done, 30_000));
      return create();
    })
    .then((r) => (lap('create-nx-workspace', t), r));
  // Trivy's database, as an ops team publishes it (registry:trivy-db): scans then work offline.
  const database = buildFixtureDb({ workspaceRoot: REPO, advisoriesFile: join(REPO, 'tools/trivy-db/advisories.json'), env })
    .then((db) => publishTrivyDb(client, `${NAMESPACE}/trivy-db`, db))
    .then((r) => (lap('trivy database', t), r));
  expectOk(await publish, 'npm publish');
  expectOk(await workspace, 'create-nx-workspace');
  await database;
  await git('init', '-q', '-b', 'main');
  await commitAll('chore: new workspace', IMPORT_DATE);
}, STEP);

afterAll(async () => {
  console.log(`package e2e: ${((Date.now() - started) / 1000).toFixed(0)} s in all\n  ${timings.join('\n  ')}`);
  if (verdaccio && verdaccio.exitCode === null && verdaccio.signalCode === null) {
    const child = verdaccio;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the package another team installs', () => {
  it('is JavaScript with declarations, with its dependencies declared and no test code', async () => {
    const files = (function walk(dir: string, prefix = ''): string[] {
      return readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walk(join(dir, name), `${prefix}${name}/`) : [`${prefix}${name}`]));
    })(DIST);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /\.spec\.|\.testing\.|(^|\/)testing(-|\/)|^src\/e2e\/|\/fixtures\//.test(f))).toEqual([]);
    const manifest = JSON.parse(await readFile(join(DIST, 'package.json'), 'utf8'));
    expect(manifest.private).toBeUndefined();
    expect(manifest).toMatchObject({ main: './src/index.js', types: './src/index.d.ts', bin: { 'auren-registry': 'bin/auren-registry.js' } });
    expect(manifest.exports['.']).toEqual({ types: './src/index.d.ts', default: './src/index.js' });
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['ajv', 'execa', 'semver', 'tar-stream', 'undici', 'yaml']);
    expect(manifest.peerDependencies).toEqual({ '@nx/devkit': '>=23.0.0 <25.0.0' });
    for (const file of ['executors.json', 'generators.json']) {
      const collection = JSON.parse(await readFile(join(DIST, file), 'utf8'));
      for (const entry of Object.values<Record<string, string>>(collection.executors ?? collection.generators)) {
        for (const key of ['implementation', 'batchImplementation', 'factory'].filter((k) => entry[k])) {
          const path = entry[key].split('#')[0];
          expect({ file, path, exists: path.endsWith('.js') && existsSync(join(DIST, path)) }).toEqual({ file, path, exists: true });
        }
        expect(existsSync(join(DIST, entry.schema))).toBe(true);
      }
    }
    const pack = await execa('npm', ['pack', '--dry-run', '--json'], { cwd: DIST, env });
    const [packed] = JSON.parse(pack.stdout) as [{ size: number; unpackedSize: number; entryCount: number }];
    timings.push(`package: ${packed.entryCount} files, ${(packed.size / 1000).toFixed(1)} kB packed, ${(packed.unpackedSize / 1000).toFixed(0)} kB unpacked`);
    expect(packed.entryCount).toBeLessThan(600);
  });

  it('nx add installs it from the npm registry; init takes the registry and namespace from AUREN_REGISTRY', async () => {
    const t = Date.now();
    const add = await nx(['add', '@auren/registry-plugin'], { AUREN_REGISTRY: `${registry.host}/${NAMESPACE}` });
    expectOk(add, 'nx add @auren/registry-plugin');
    lap('nx add', t);
    const installed = join(ws, 'node_modules/@auren/registry-plugin');
    expect(JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')).version).toBe('0.1.0');
    const lock = JSON.parse(await readFile(join(ws, 'package-lock.json'), 'utf8'));
    expect(lock.packages['node_modules/@auren/registry-plugin'].resolved).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/@auren\/registry-plugin\/-\//);
    const nxJson = JSON.parse(await readFile(join(ws, 'nx.json'), 'utf8'));
    const entry = nxJson.plugins.find((p: { plugin?: string }) => p.plugin === '@auren/registry-plugin');
    expect(entry.options).toMatchObject({ registry: registry.host, namespace: NAMESPACE, baseImages: {} });
    // With the plugin in nx.json, every nx command loads it: from JavaScript, with no loader.
    expectOk(await nx(['show', 'projects']), 'nx show projects');
  }, STEP);

  it('the generators make the base image, the registry project and an app built on that base', async () => {
    const t = Date.now();
    expectOk(await nx(['g', '@auren/registry-plugin:base-image', '--no-interactive']), 'nx g base-image');
    expectOk(await nx(['g', '@auren/registry-plugin:registry', '--no-interactive']), 'nx g registry');
    expectOk(await nx(['g', '@auren/registry-plugin:docker-app', 'hello', '--no-interactive']), 'nx g docker-app hello');
    lap('generators', t);
    const projects = await nx(['show', 'projects', '--json']);
    expectOk(projects, 'nx show projects');
    expect(JSON.parse(projects.all.slice(projects.all.indexOf('['))).sort()).toEqual(['base-image', 'hello', 'registry']);
    const hello = JSON.parse(await readFile(join(ws, 'apps/hello/project.json'), 'utf8'));
    expect(hello.implicitDependencies).toEqual(['base-image']);
    const nxJson = JSON.parse(await readFile(join(ws, 'nx.json'), 'utf8'));
    expect(nxJson.plugins.find((p: { plugin?: string }) => p.plugin === '@auren/registry-plugin').options.baseImages).toEqual({
      'debian:bookworm-slim': '{registry}/{namespace}/base-debian:bookworm',
    });
    const registryTargets = await nx(['show', 'project', 'registry', '--json']);
    expect(Object.keys(JSON.parse(registryTargets.all.slice(registryTargets.all.indexOf('{'))).targets).sort()).toEqual(
      ['cleanup', 'deploy-manifest', 'gc', 'kubernetes-manifest', 'login', 'mirror', 'monitor', 'restore', 'serve', 'trivy-db'],
    );
    await commitAll('feat: images with @auren/registry-plugin', SETUP_DATE);
  }, STEP);

  it('nx affected -t docker-push pushes the base image and the app to the registry', async () => {
    // A root filesystem of the same inputs, made by an earlier run on this machine.
    const rootfs = join(ws, 'dist/base-image');
    if (existsSync(join(ROOTFS_CACHE, '.inputs'))) await cp(ROOTFS_CACHE, rootfs, { recursive: true });
    const t = Date.now();
    const push = await nx(['affected', '-t', 'docker-push', '--base=HEAD~1'], { AUREN_REGISTRY: `${registry.host}/${NAMESPACE}` });
    expectOk(push, 'nx affected -t docker-push');
    lap(`nx affected -t docker-push${/already holds the root filesystem/.test(push.all) ? ' (root filesystem kept from an earlier run)' : ''}`, t);
    expect(await tags(`${NAMESPACE}/base-debian`)).toEqual(expect.arrayContaining(['bookworm', 'v0.1.0']));
    expect(await tags(`${NAMESPACE}/hello`)).toEqual(expect.arrayContaining(['latest', 'v0.1.0']));
    expect((await git('tag', '--list')).split('\n').filter(Boolean).sort()).toEqual(['base-image@0.1.0', 'hello@0.1.0']);
    // hello was built FROM the base image the same run pushed, by digest.
    const image = JSON.parse(await readFile(join(ws, 'dist/images/hello/image.json'), 'utf8'));
    const base = JSON.parse(await readFile(join(ws, 'dist/images/base-image/image.json'), 'utf8'));
    expect(image.baseImage).toBe(`${registry.host}/${NAMESPACE}/base-debian@${base.digest}`);
    if (existsSync(join(rootfs, '.inputs'))) {
      await rm(ROOTFS_CACHE, { recursive: true, force: true });
      await mkdir(ROOTFS_CACHE, { recursive: true });
      await cp(rootfs, ROOTFS_CACHE, { recursive: true });
    }
  }, STEP);

  it('npx auren-registry ls lists what was pushed', async () => {
    const ls = await run('npx', ['auren-registry', 'ls'], { env: { AUREN_REGISTRY: `${registry.host}/${NAMESPACE}` } });
    expectOk(ls, 'npx auren-registry ls');
    expect(ls.all).toMatch(new RegExp(`^${NAMESPACE}/hello +.*v0\\.1\\.0`, 'm'));
    expect(ls.all).toMatch(new RegExp(`^${NAMESPACE}/base-debian +.*bookworm`, 'm'));
  }, STEP);

  it('registry:cleanup plans without deleting', async () => {
    const before = await tags(`${NAMESPACE}/hello`);
    const cleanup = await nx(['run', 'registry:cleanup'], { AUREN_REGISTRY: `${registry.host}/${NAMESPACE}` });
    expectOk(cleanup, 'nx run registry:cleanup');
    expect(cleanup.all).toMatch(/Dry run: nothing was deleted/);
    expect(cleanup.all).toMatch(new RegExp(`${registry.host}/${NAMESPACE}/hello`));
    expect(await tags(`${NAMESPACE}/hello`)).toEqual(before);
  }, STEP);

  it('nx run hello:scan re-runs when the scanner changes, and never replays another scanner\'s verdict', async () => {
    const scan = (path: string) => nx(['run', 'hello:scan', '--excludeTaskDependencies'], { AUREN_REGISTRY: `${registry.host}/${NAMESPACE}`, PATH: path });
    const fromCache = (result: Run) => /\[(local cache|remote cache|existing outputs match the cache, left as is)\]/.test(result.all);
    const withTrivy = env.PATH as string;
    const withoutTrivy = pathWithout('trivy', withTrivy);

    // The same scanner twice: the second is a cache hit, so what follows is a real test of the key.
    // (--excludeTaskDependencies keys it apart from the docker-push run's scan, hence the first.)
    const first = await scan(withTrivy);
    expectOk(first, 'nx run hello:scan');
    expect(first.all).toMatch(/hello: scan pass/);
    const same = await scan(withTrivy);
    expectOk(same, 'nx run hello:scan');
    expect({ fromCache: fromCache(same), verdict: /hello: scan pass/.test(same.all) }).toEqual({ fromCache: true, verdict: true });

    // Trivy gone: the key changes, so the scan runs and says it could not scan.
    const gone = await scan(withoutTrivy);
    expect({ fromCache: fromCache(gone), output: gone.all }).toEqual({ fromCache: false, output: expect.stringMatching(/not.scanned/i) });

    // Trivy back: its verdict, never the "not scanned" one just cached under the other key.
    const back = await scan(withTrivy);
    expectOk(back, 'nx run hello:scan');
    expect(back.all).toMatch(/hello: scan pass/);
  }, STEP);
});
