// Issue 12: a one-app change costs little more than building that app.
//
//   ours:      a one-line change to apps/auren-api, committed, then
//              `nx affected -t docker-push --base=HEAD~1 --head=HEAD` (build, scan, push, history, git tag);
//   reference: the seed's build_and_push.sh translated to buildah: build all three services with
//              `--layers`, push each as <version> and latest; no scan.
// Same registry (a throw-away one on a free port), same builder storage (the plugin's), warm
// caches on both sides (one untimed round of each first). 3 rounds; prints both times, the ratio
// and the median ratio. Target: median ≤ 2.0.
//
// Usage: node bench/one-app.mjs [--rounds 3] [--keep] [--workspace <clone kept by --keep>]   (NX_PERF_LOGGING=true shows Nx's own timings)
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, symlink, appendFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
require('@swc-node/register');
const { startTestRegistry } = require('../libs/registry-plugin/src/testing/registry-server.ts');
const { storageEnv, globalArgs } = require('../libs/registry-plugin/src/lib/builders/buildah.ts');

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf('--rounds') + 1] || 0) || 3;
const KEEP = args.includes('--keep');
/** Reuse a clone kept by an earlier run (`--keep`): its history and builder cache are already there. */
const REUSE = args.includes('--workspace') ? args[args.indexOf('--workspace') + 1] : undefined;
const APPS = ['auren-api', 'auren-nginx', 'biometric-bridge'];
const run = promisify(execFile);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
const timed = async (fn) => {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
};

/** A copy of the workspace with its own git history (as src/e2e/workspace.ts makes for tests). */
async function cloneWorkspace(env) {
  const dir = await mkdtemp(join(tmpdir(), 'auren-bench-'));
  const { stdout } = await run('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, maxBuffer: 64 << 20 });
  for (const file of stdout.split('\0').filter((f) => f && !f.startsWith('node_modules/'))) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await cp(join(root, file), join(dir, file)).catch((error) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'));
  const git = (...a) => run('git', a, { cwd: dir, env });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'chore: import the workspace');
  return { dir, git };
}

const registry = await startTestRegistry();
const env = {
  ...process.env,
  AUREN_REGISTRY: `${registry.host}/auren`,
  NX_DAEMON: 'false',
  NX_NO_CLOUD: 'true',
  NX_TUI: 'false',
  // The machine's Nx cache, as the e2e tests use: the Debian base rootfs is made once per machine.
  NX_CACHE_DIRECTORY: process.env.NX_CACHE_DIRECTORY || join(root, '.nx', 'cache'),
  FORCE_COLOR: '0',
  // The scanner the e2e tests use unless a real one is on PATH (tools/.bin comes first in test-all.sh).
  PATH: `${join(root, 'tools/.bin')}:${process.env.PATH}:${join(root, 'tools/scanner-standins')}`,
  GIT_AUTHOR_NAME: 'AUREN bench', GIT_AUTHOR_EMAIL: 'bench@auren.invalid',
  GIT_COMMITTER_NAME: 'AUREN bench', GIT_COMMITTER_EMAIL: 'bench@auren.invalid',
};
for (const key of ['GITHUB_REF_NAME', 'GITHUB_HEAD_REF', 'GITHUB_EVENT_NAME', 'AUREN_BRANCH', 'NX_DRY_RUN']) delete env[key];
const ws = REUSE
  ? { dir: REUSE, git: (...a) => run('git', a, { cwd: REUSE, env }) }
  : await cloneWorkspace(env);
const nx = (a, extra = {}) => run('npx', ['nx', ...a, '--outputStyle=static'], { cwd: ws.dir, env: { ...env, ...extra }, maxBuffer: 64 << 20 });

// The reference builds with the plugin's builder storage (overlay under its own root, else vfs).
const builderEnv = await storageEnv(env);
const g = globalArgs(builderEnv);
const base = `${registry.host}/auren/base-debian:bookworm`;
async function reference(version) {
  for (const app of APPS) {
    const local = `localhost/seed/${app}:${version}`;
    await run('buildah', [...g, 'build', '--isolation', 'chroot', '--layers', '--quiet', '--tls-verify=false',
      '--build-arg', `BASE_IMAGE=${base}`, '-t', local, '-f', join(ws.dir, 'apps', app, 'Dockerfile'), join(ws.dir, 'apps', app)],
    { env: builderEnv, maxBuffer: 64 << 20 });
    for (const tag of [version, 'latest']) {
      await run('buildah', [...g, 'push', '--quiet', '--tls-verify=false', local, `docker://${registry.host}/seed/${app}:${tag}`], { env: builderEnv });
    }
  }
}

let round = 0;
/** One line in one file of auren-api, committed: what a developer's change looks like. */
async function changeApi() {
  round++;
  await appendFile(join(ws.dir, 'apps/auren-api/auren/__init__.py'), `# bench change ${round}\n`);
  await ws.git('add', '-A');
  await ws.git('commit', '-q', '-m', `fix(auren-api): bench change ${round}`);
}
const ours = () => nx(['affected', '-t', 'docker-push', '--base=HEAD~1', '--head=HEAD'], process.env.NX_PERF_LOGGING ? { NX_PERF_LOGGING: 'true' } : {});

try {
  console.log(`workspace ${ws.dir}, registry ${registry.host}, builder storage ${builderEnv.STORAGE_DRIVER}`);
  // Setup (untimed): the first release of everything, base image included; then one warm-up of each side.
  let t = await timed(() => nx(['run-many', '-t', 'docker-push']));
  console.log(`setup: first release of every project ${fmt(t)}`);
  t = await timed(() => reference('0.1.0'));
  console.log(`warm-up: reference ${fmt(t)}`);
  await changeApi();
  t = await timed(async () => {
    const { stdout } = await ours();
    if (process.env.BENCH_VERBOSE) console.log(stdout);
  });
  console.log(`warm-up: nx affected ${fmt(t)}`);

  const ratios = [];
  for (let i = 0; i < ROUNDS; i++) {
    await changeApi();
    let out = '';
    const oursMs = await timed(async () => {
      out = (await ours()).stdout;
    });
    if (!/Successfully ran target docker-push/.test(out) || !/auren-api/.test(out)) throw new Error(`nx affected did not push auren-api:\n${out.slice(-3000)}`);
    if (process.env.BENCH_VERBOSE) console.log(out);
    const refMs = await timed(() => reference(`0.1.${i + 1}`));
    ratios.push(oursMs / refMs);
    console.log(`round ${i + 1}: nx affected -t docker-push ${fmt(oursMs)}  reference build-all loop ${fmt(refMs)}  ratio ${(oursMs / refMs).toFixed(2)}`);
  }
  console.log(`median ratio ${median(ratios).toFixed(2)} (target ≤ 2.00)`);
} finally {
  await registry.stop();
  if (!KEEP && !REUSE) await rm(ws.dir, { recursive: true, force: true });
  else console.log(`kept ${ws.dir}`);
}
