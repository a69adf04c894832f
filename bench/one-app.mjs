// A one-app change, with the whole default mission on, costs little more than the
// seed's build-all loop, each measured in a builder storage of its own that starts empty.
//
//   ours:      one line appended to apps/auren-api, committed, then
//              `nx affected -t docker-push --base=HEAD~1 --head=HEAD`: build, the real Trivy with
//              the fixture database served by the registry (its findings accepted so the gate
//              passes), the SBOM, push, signature and SLSA provenance (local cosign key pair in
//              .auren/signing/, the default for a loopback registry), history, git tag;
//   reference: the seed's build_and_push.sh translated to buildah: all three services
//              `buildah build --layers`, each pushed as <version> and latest; no scan.
//
// Each side has its own empty builder storage (--root/--runroot under the bench folder); ours
// also an empty Nx cache, temp folder and Trivy cache. Setup (untimed): publish the database,
// accept its findings, release everything once (the base image's root filesystem is made again
// with the empty Nx cache: minutes). Then one untimed warm-up of each side, then `--rounds`
// timed rounds (which side goes first alternates), each checked: the push ran the whole mission.
// Prints each round and the median ratio. Target: median ≤ 2.0.
//
// Usage: node bench/one-app.mjs [--rounds 3] [--keep] [--shared-storage-no-db]
//   --keep                  keep the bench folder (clone, storages, caches) and print where it is
//   --shared-storage-no-db  the issue-12 measurement: both sides in the machine's shared builder
//                           storage (whatever earlier runs left there) and Nx cache, and no
//                           vulnerability database published (the scan runs without one)
//   BENCH_VERBOSE=1         print each run's Nx output and where its time went (AUREN_TRACE=1)
//   NX_PERF_LOGGING=true    Nx's own timings in that output
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  ROOT, SEED_APPS, VERBOSE, affectedPush, benchFolder, buildahArgs, checkMission, cloneOn, currentBase, enableMission,
  flags, fmt, median, nxOk, run, seedLoop, showVerbose, startTestRegistry, timed,
} from './lib/kit.mjs';

const require = createRequire(import.meta.url);
const { storageEnv } = require('../libs/registry-plugin/src/lib/builders/buildah.ts');

const opts = flags({ rounds: 3, keep: false, 'shared-storage-no-db': false });
const SHARED = opts['shared-storage-no-db'];

const folder = benchFolder('one-app');
const registry = await startTestRegistry();
/** The seed images this run tagged: in the machine's shared storage they are removed at the end. */
const seedVersions = [];
let refMachine;
try {
  let oursMachine;
  if (SHARED) {
    const shared = await storageEnv({ ...process.env });
    const storage = { STORAGE_DRIVER: shared.STORAGE_DRIVER, AUREN_BUILDAH_ROOT: shared.AUREN_BUILDAH_ROOT ?? '' };
    if (!storage.AUREN_BUILDAH_ROOT) throw new Error('--shared-storage-no-db needs the overlay storage the plugin uses on this machine; it fell back to vfs');
    oursMachine = { ...storage, NX_CACHE_DIRECTORY: process.env.NX_CACHE_DIRECTORY || join(ROOT, '.nx', 'cache') };
    refMachine = storage;
  } else {
    oursMachine = folder.machine('ours');
    refMachine = folder.machine('reference');
  }
  const ws = await cloneOn(folder, oursMachine, registry.host);
  const mode = SHARED
    ? 'shared machine storage and Nx cache, no vulnerability database (not the issue-24 figure)'
    : 'own empty storages, whole default mission (Trivy + served database, SBOM, signature, provenance)';
  console.log(`mode: ${mode}\nbench folder ${folder.dir}, clone ${ws.dir}, registry ${registry.host}, storage ${oursMachine.STORAGE_DRIVER}`);
  console.log('note: the ratio is only a figure on an idle machine (the lead takes those); on a loaded one it is a smoke test');

  // Setup, untimed.
  if (!SHARED) {
    const { ms, value: accepted } = await timed(() => enableMission(ws));
    console.log(`setup: database published, findings accepted (${accepted.join(', ') || 'none at a blocking severity'}) ${fmt(ms)}`);
  }
  let t = await timed(() => nxOk(ws, ['run-many', '-t', 'docker-push']));
  console.log(`setup: first release of every project ${fmt(t.ms)}`);
  if (!SHARED) checkMission(ws, 'auren-api');

  let change = 0;
  const changeApi = () => ws.commit(`fix(auren-api): bench change ${++change}`, { 'apps/auren-api/auren/__init__.py': `# bench change ${change}\n` });
  const reference = (version, base) => {
    seedVersions.push(version);
    return seedLoop({ ws, machine: refMachine, registryHost: registry.host, apps: SEED_APPS, version, base });
  };

  // Warm-up, untimed: the reference's storage gets its base image and layers, ours its first rebuild.
  const warmBase = await currentBase(registry.host);
  t = await timed(() => reference('0.1.0', warmBase));
  console.log(`warm-up: reference build-all loop ${fmt(t.ms)}`);
  await changeApi();
  t = await timed(() => affectedPush(ws));
  showVerbose('warm-up nx affected', t.value);
  console.log(`warm-up: nx affected -t docker-push ${fmt(t.ms)}`);
  let lastDigest = SHARED ? undefined : checkMission(ws, 'auren-api');

  const ratios = [];
  for (let i = 0; i < opts.rounds; i++) {
    await changeApi();
    const base = await currentBase(registry.host);
    const sides = {
      ours: async () => {
        const r = await timed(() => affectedPush(ws));
        if (!/auren-api:docker-push/.test(r.value)) throw new Error(`nx affected did not push auren-api:\n${r.value.slice(-3000)}`);
        return r;
      },
      reference: () => timed(() => reference(`0.1.${i + 1}`, base)),
    };
    const order = i % 2 === 0 ? ['ours', 'reference'] : ['reference', 'ours'];
    const ms = {};
    for (const side of order) {
      const r = await sides[side]();
      ms[side] = r.ms;
      if (side === 'ours') showVerbose(`round ${i + 1} nx affected`, r.value);
    }
    if (!SHARED) {
      const digest = checkMission(ws, 'auren-api');
      if (digest === lastDigest) throw new Error(`round ${i + 1}: auren-api was not rebuilt (same digest ${digest})`);
      lastDigest = digest;
    }
    ratios.push(ms.ours / ms.reference);
    console.log(`round ${i + 1}: nx affected -t docker-push ${fmt(ms.ours)}  reference build-all loop ${fmt(ms.reference)}  ratio ${(ms.ours / ms.reference).toFixed(2)}  (${order[0]} first)`);
  }
  console.log(`median ratio ${median(ratios).toFixed(2)} over ${ratios.length} round(s) (target ≤ 2.00${SHARED ? '; shared-storage mode, not the issue-24 figure' : ''})`);
  if (VERBOSE) console.log(`storages: ours ${buildahArgs(oursMachine).join(' ')}; reference ${buildahArgs(refMachine).join(' ')}`);
} finally {
  await registry.stop();
  // Images left in the machine's storage slow every later buildah command there (and inflated
  // the reference of earlier runs): the shared mode leaves none of its own behind.
  if (SHARED && refMachine && seedVersions.length) {
    const tags = SEED_APPS.flatMap((app) => seedVersions.map((v) => `localhost/seed/${app}:${v}`));
    await run('buildah', [...buildahArgs(refMachine), 'rmi', ...tags]).catch((error) => console.log(`could not remove the seed images: ${error.message}`));
  }
  if (opts.keep) console.log(`kept ${folder.dir} and the clone (printed above); remove both when done`);
  else await folder.remove();
}
