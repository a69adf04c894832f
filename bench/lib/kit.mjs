// What the benches share: a bench folder under /tmp holding every machine's state, workspace
// clones with a machine of their own (Nx cache, builder storage, temp folder, Trivy cache), the
// whole default mission switched on (the fixture vulnerability database served by the registry,
// its findings accepted so the gate passes; SBOM, signature and provenance are on by default
// against a loopback registry), the seed's build-all loop as the reference, and the arithmetic.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
require('@swc-node/register');
const { startTestRegistry } = require('../../libs/registry-plugin/src/testing/registry-server.testing.ts');
const workspaceTesting = require('../../libs/registry-plugin/src/e2e/workspace.testing.ts');
const { cloneWorkspace, stripAnsi } = workspaceTesting;
const { createRegistryClient } = require('../../libs/registry-plugin/src/lib/registry/client.ts');

export { startTestRegistry, cloneWorkspace, stripAnsi };
export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const SEED_APPS = ['auren-api', 'auren-nginx', 'biometric-bridge'];
export const run = promisify(execFile);
export const VERBOSE = Boolean(process.env.BENCH_VERBOSE);

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
export const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
export async function timed(fn) {
  const t = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, value };
}

/** `--name value` and `--flag` from argv, with defaults. */
export function flags(spec) {
  const args = process.argv.slice(2);
  const out = {};
  for (const [name, fallback] of Object.entries(spec)) {
    const i = args.indexOf(`--${name}`);
    if (typeof fallback === 'boolean') out[name] = i >= 0;
    else if (i < 0) out[name] = fallback;
    else if (typeof fallback === 'number') {
      out[name] = Number(args[i + 1]);
      if (!Number.isInteger(out[name]) || out[name] < 1) throw new Error(`--${name} needs a whole number ≥ 1, got ${args[i + 1]}`);
    } else out[name] = args[i + 1];
  }
  const known = new Set(Object.keys(spec).map((n) => `--${n}`));
  for (const [i, a] of args.entries()) {
    if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a} (known: ${[...known].join(', ')})`);
    if (!a.startsWith('--') && !(i > 0 && known.has(args[i - 1]) && typeof spec[args[i - 1].slice(2)] !== 'boolean')) throw new Error(`unexpected argument ${a}`);
  }
  return out;
}

/**
 * One folder under /tmp for everything a bench makes; `remove()` unmounts what buildah left
 * mounted in its storages, then deletes it all.
 */
export function benchFolder(name) {
  const dir = mkdtempSync(join('/tmp', `auren-bench-${name}-`));
  const storages = [];
  const clones = [];
  return {
    dir,
    /** A workspace clone (made in the system's temp folder) removed with the bench folder. */
    track(ws) {
      clones.push(ws);
      return ws;
    },
    /**
     * A machine of its own: empty Nx cache, builder storage, temp folder and Trivy cache, and
     * empty caches of what a new machine's `npm ci` would leave empty in node_modules/.cache
     * (the plugin's compiled sources and option validators), since the clones share one
     * node_modules.
     */
    machine(label) {
      const home = join(dir, label);
      for (const sub of ['nx-cache', 'buildah', 'tmp', 'trivy-cache', 'ts-cache', 'validators']) mkdirSync(join(home, sub), { recursive: true });
      const buildahRoot = join(home, 'buildah', 'root');
      storages.push(buildahRoot);
      return {
        NX_CACHE_DIRECTORY: join(home, 'nx-cache'),
        STORAGE_DRIVER: process.env.BENCH_STORAGE_DRIVER || 'overlay',
        AUREN_BUILDAH_ROOT: buildahRoot,
        TMPDIR: join(home, 'tmp'),
        TRIVY_CACHE_DIR: join(home, 'trivy-cache'),
        AUREN_TS_CACHE_DIR: join(home, 'ts-cache'),
        AUREN_VALIDATOR_CACHE_DIR: join(home, 'validators'),
      };
    },
    async remove() {
      for (const ws of clones) await ws.remove();
      for (const root of storages) await removeStorage(root);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** buildah's global flags for a machine's storage (as the plugin's builder passes them). */
export const buildahArgs = (m) => ['--storage-driver', m.STORAGE_DRIVER, '--root', m.AUREN_BUILDAH_ROOT, '--runroot', `${m.AUREN_BUILDAH_ROOT}.run`];

async function removeStorage(root) {
  const m = { STORAGE_DRIVER: process.env.BENCH_STORAGE_DRIVER || 'overlay', AUREN_BUILDAH_ROOT: root };
  await run('buildah', [...buildahArgs(m), 'rm', '--all']).catch(() => undefined);
  // An overlay mount left behind (a killed build) would make the delete fail or reach into it.
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((p) => p && (p.startsWith(`${root}/`) || p.startsWith(`${root}.run/`)));
  for (const mount of mounts.reverse()) await run('umount', ['-l', mount]).catch(() => undefined);
}

/**
 * A clone of the workspace (e2e/workspace.testing.ts: its own git history, real Nx) on `machine`, with
 * the daemon off and one platform, as the seed's loop builds one.
 */
export async function cloneOn(folder, machine, registryHost, extra = {}) {
  return folder.track(await cloneWorkspace({
    AUREN_REGISTRY: `${registryHost}/auren`,
    AUREN_PLATFORMS: process.env.AUREN_PLATFORMS || 'linux/amd64',
    ...machine,
    ...(VERBOSE ? { AUREN_TRACE: '1' } : {}),
    ...extra,
  }));
}

/** `nx …` in a clone; a failure throws with the end of its output. */
export async function nxOk(ws, args, extraEnv = {}) {
  const result = await ws.nx(args, extraEnv);
  if (result.exitCode !== 0) throw new Error(`nx ${args.join(' ')} failed (${result.exitCode}):\n${result.all.slice(-6000)}`);
  return result.all;
}

/** The whole default mission on a clone (e2e/workspace.testing.ts says what it turns on). */
export const enableMission = (ws) => workspaceTesting.enableMission(ws, 'bench: a fixture finding accepted so the gate passes');

/**
 * Checks that a push of `project` ran the whole mission, from its push.json and scan report:
 * the gate passed on the real Trivy with the served database, and the digest carries an SBOM,
 * a signature and a provenance attestation. Returns the pushed digest.
 */
export function checkMission(ws, project) {
  const push = JSON.parse(readFileSync(join(ws.dir, 'dist/images', project, 'push.json'), 'utf8'));
  const report = JSON.parse(readFileSync(join(ws.dir, 'dist/images', project, 'scan/report.json'), 'utf8'));
  const scanner = report.vulnerabilityScan?.scanner ?? {};
  const problems = [];
  if (!['pass', 'warn'].includes(push.scan?.verdict)) problems.push(`scan verdict ${push.scan?.verdict}`);
  if (scanner.name !== 'trivy' || !/\/trivy-db@sha256:/.test(scanner.dbSource ?? '')) problems.push(`scanner ${JSON.stringify(scanner)} (expected trivy with the served database)`);
  const sc = push.supplyChain ?? {};
  if (sc.sbom?.status !== 'attached') problems.push(`SBOM ${JSON.stringify(sc.sbom)}`);
  if (sc.signature?.status !== 'signed') problems.push(`signature ${JSON.stringify(sc.signature)}`);
  if (sc.provenance?.status !== 'attested') problems.push(`provenance ${JSON.stringify(sc.provenance)}`);
  if (problems.length) throw new Error(`${project}: the push did not run the whole mission: ${problems.join('; ')}`);
  return push.digest;
}

/** The digest `repository:tag` names in the registry now. */
export async function resolveDigest(registryHost, repository, tag) {
  const head = await createRegistryClient({ registry: registryHost }).manifestHead(repository, tag);
  if (head === 'not-found') throw new Error(`${registryHost}/${repository}:${tag} is not in the registry`);
  return head.digest;
}

/**
 * The seed's build_and_push.sh translated to buildah: every app `buildah build --layers`, each
 * pushed as <version> and latest, no scan, one after the other. It builds FROM the base image
 * our side released, pinned by the digest the registry names now (resolved by the caller, not
 * timed), so a new base image is a new base for it too, as a new debian image was for the seed.
 */
export async function seedLoop({ ws, machine, registryHost, apps, version, base }) {
  const g = buildahArgs(machine);
  const env = { ...process.env, ...machine };
  for (const app of apps) {
    const local = `localhost/seed/${app}:${version}`;
    await run('buildah', [...g, 'build', '--isolation', 'chroot', '--layers', '--quiet', '--tls-verify=false',
      '--build-arg', `BASE_IMAGE=${base}`, '-t', local, '-f', join(ws.dir, 'apps', app, 'Dockerfile'), join(ws.dir, 'apps', app)],
    { env, maxBuffer: 64 << 20 });
    for (const tag of [version, 'latest']) {
      await run('buildah', [...g, 'push', '--quiet', '--tls-verify=false', local, `docker://${registryHost}/seed/${app}:${tag}`], { env });
    }
  }
}

/** The base image the apps build FROM, by digest. */
export async function currentBase(registryHost) {
  return `${registryHost}/auren/base-debian@${await resolveDigest(registryHost, 'auren/base-debian', 'bookworm')}`;
}

/** One committed line in one file: what a developer's change looks like. */
export async function commitLine(ws, file, line, message) {
  await ws.commit(message, { [file]: `${line}\n` });
}

/** `nx affected -t docker-push` over the last commit: what CI runs after a merge. */
export const affectedPush = (ws) => nxOk(ws, ['affected', '-t', 'docker-push', '--base=HEAD~1', '--head=HEAD'], process.env.NX_PERF_LOGGING ? { NX_PERF_LOGGING: 'true' } : {});

/** Flags of buildah, git and the scanners that take a value: the subcommand is the first other word. */
const VALUE_FLAGS = new Set(['--storage-driver', '--root', '--runroot', '-C', '-c', '--cache-dir', '--config', '--git-dir', '--work-tree']);

/**
 * Where the time went, from AUREN_TRACE's lines (`auren-trace: <ms> ms <what>`): total and
 * count per program and subcommand (buildah build, trivy image, cosign sign, …), per process
 * start-up and per executor run, then which tasks ran and which Nx took from its cache. A cached
 * task's replayed output (with the trace lines of the run that made it) is left out. Tasks run
 * in parallel, so the sums can exceed the wall time.
 */
export function traceSummary(output) {
  const tasks = new Map();
  // Nx prints a batch's output as it streams, then again under the heading of each of its tasks
  // (the first one's heading holds the whole batch's): a line is counted as often as it appears
  // in any one region, not in all of them together.
  const seen = new Map();
  let region = new Map();
  let skip = false;
  const close = () => {
    for (const [line, n] of region) seen.set(line, Math.max(n, seen.get(line) ?? 0));
    region = new Map();
  };
  for (const line of output.split('\n')) {
    const task = /^> nx run (\S+)(.*)$/.exec(line.trim());
    if (task || /^\s*NX\s+Running \d+ tasks? with /.test(line)) {
      close();
      skip = Boolean(task) && /\[(local|remote) cache\]|existing outputs match the cache/.test(task[2]);
      if (task && !tasks.has(task[1])) tasks.set(task[1], skip ? ' (cache)' : '');
      continue;
    }
    const m = /auren-trace:\s+\d+ ms .*$/.exec(line);
    if (m && !skip) region.set(m[0], (region.get(m[0]) ?? 0) + 1);
  }
  close();
  const groups = new Map();
  for (const [traced, n] of seen) {
    const m = /auren-trace:\s+(\d+) ms (.*)$/.exec(traced);
    const what = m[2];
    let key;
    if (what.startsWith('process start-up')) key = 'process start-up until the executor runs';
    else if (what === 'executor') key = 'executor (whole run, after start-up)';
    else {
      const words = what.split(' ');
      const program = words[0].split('/').pop();
      let sub;
      for (let i = 1; i < words.length; i++) {
        if (VALUE_FLAGS.has(words[i])) i++;
        else if (/^[a-z][\w-]*$/.test(words[i])) {
          sub = words[i];
          break;
        } else if (!words[i].startsWith('-')) break;
      }
      key = sub ? `${program} ${sub}` : program;
    }
    const g = groups.get(key) ?? { ms: 0, n: 0 };
    g.ms += Number(m[1]) * n;
    g.n += n;
    groups.set(key, g);
  }
  const lines = [...groups.entries()].sort((a, b) => b[1].ms - a[1].ms).map(([key, g]) => `  ${fmt(g.ms).padStart(9)}  ×${String(g.n).padEnd(3)} ${key}`);
  if (lines.length === 0) lines.push('  (no auren-trace lines: is AUREN_TRACE=1 reaching the executors?)');
  return `${lines.join('\n')}\n  tasks: ${[...tasks].map(([t, c]) => `${t}${c}`).join(', ') || 'none'}`;
}

/** Prints a round's Nx output and where its time went, with BENCH_VERBOSE=1. */
export function showVerbose(label, output) {
  if (!VERBOSE) return;
  console.log(`--- ${label}: output ---\n${output}\n--- ${label}: where the time went (AUREN_TRACE) ---\n${traceSummary(output)}`);
}

/**
 * The control of "nothing affected": a `git clone` of `ws` at its HEAD (the same projects and
 * files) on a machine of its own, whose nx.json loads no plugin of ours. What Nx costs alone.
 */
export async function nxAloneTwin(folder, ws, label) {
  const twin = folder.track(await workspaceTesting.cloneClone(ws, folder.machine(label)));
  // Nx reads the remote for the workspace's identity; `ws` has none, and the twin must not differ.
  await twin.git('remote', 'remove', 'origin');
  const nxJsonPath = join(twin.dir, 'nx.json');
  const nxJson = JSON.parse(readFileSync(nxJsonPath, 'utf8'));
  nxJson.plugins = (nxJson.plugins ?? []).filter((p) => (typeof p === 'string' ? p : p.plugin) !== '@auren/registry-plugin');
  writeFileSync(nxJsonPath, `${JSON.stringify(nxJson, null, 2)}\n`);
  await twin.git('commit', '-q', '-am', 'bench: Nx alone, without the registry plugin');
  return twin;
}

/**
 * "Nothing affected" against Nx's own floor: `nx affected -t docker-push --base=HEAD --head=HEAD`
 * and `nx show projects`, in `ws` and in its Nx-alone twin (nxAloneTwin), `rounds` times each
 * after one untimed run of each (the project graph is then cached), the four commands of a round
 * in an order that rotates. The twin tells which part of the difference is Nx's own: the
 * plugin's share is what it adds to `nx affected` beyond what it adds to `nx show projects`.
 */
export async function nothingAffected(ws, twin, rounds) {
  const affected = (clone) => async () => {
    const out = await nxOk(clone, ['affected', '-t', 'docker-push', '--base=HEAD', '--head=HEAD']);
    if (/nx run \S+:/.test(out)) throw new Error(`"nothing affected" ran a task:\n${out.slice(-3000)}`);
    return out;
  };
  const show = (clone) => () => nxOk(clone, ['show', 'projects']);
  const runs = [
    { fn: affected(ws), ms: [] },
    { fn: show(ws), ms: [] },
    { fn: affected(twin), ms: [] },
    { fn: show(twin), ms: [] },
  ];
  for (const r of runs) await r.fn();
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < runs.length; k++) {
      const r = runs[(i + k) % runs.length];
      r.ms.push((await timed(r.fn)).ms);
    }
  }
  const [ours, floor, aloneOurs, aloneFloor] = runs.map((r) => median(r.ms));
  // The plugin's share of what `nx affected` costs beyond `nx show projects`.
  const share = ours - floor - (aloneOurs - aloneFloor);
  return { ours, floor, alone: { ours: aloneOurs, floor: aloneFloor }, share, all: { ours: runs[0].ms, floor: runs[1].ms } };
}

/** The lines that say what a nothingAffected result means: both ratios, and the plugin's share. */
export function describeNothing(r) {
  const ms = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(0)} ms`;
  return [
    `nothing affected ${fmt(r.ours)} vs nx show projects ${fmt(r.floor)}: ${ratio(r.ours, r.floor)} (target ≤ 1.1×)`,
    `Nx alone (the same projects without the plugin): ${fmt(r.alone.ours)} vs ${fmt(r.alone.floor)}: ${ratio(r.alone.ours, r.alone.floor)}`,
    `the plugin adds ${ms(r.ours - r.alone.ours)} to nothing affected and ${ms(r.floor - r.alone.floor)} to nx show projects; ` +
      `nx affected's own cost (affected − show) is ${ms(r.ours - r.floor)} with it and ${ms(r.alone.ours - r.alone.floor)} without: the plugin's share ${ms(r.share)}`,
  ];
}
