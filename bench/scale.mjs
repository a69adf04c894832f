// How the cost grows with the number of apps. In a clone with the whole default
// mission on (the fixture vulnerability database served by a throw-away registry, its findings
// accepted; SBOM, signature and provenance by default), each side in a builder storage of its
// own that starts empty, three figures are taken at the workspace's 3 apps, then again after
// the docker-app generator added `--apps` more services (default 20, committed, released
// untimed):
//   1. a one-app change (a line in apps/auren-api, committed): `nx affected -t docker-push`,
//      and the seed's build-all loop over every app (which grows with each one, cached or not);
//   2. a base-image change (an ENV line in tools/base-image/Dockerfile, committed): `nx affected -t
//      docker-push` makes the base root filesystem and image again and rebuilds, scans, signs
//      and pushes every app; the reference is the seed's loop over the same apps FROM the new
//      base (pinned by digest, so its layer cache cannot answer), which has no base to make;
//   3. "nothing affected" (`--base=HEAD --head=HEAD`) against `nx show projects`, and the same two
//      in a twin of the clone whose nx.json loads no plugin of ours (Nx alone, the control).
// Each figure is the median of `--rounds` (the base-image change: `--base-rounds`; nothing
// affected, whose differences are tens of milliseconds: `--nothing-rounds`), after one untimed
// warm-up at each size. Prints the figures at both sizes and their growth.
//
// Usage: node bench/scale.mjs [--apps 20] [--rounds 3] [--base-rounds 1] [--nothing-rounds 15] [--quick] [--keep]
//   --quick   a smoke run: --apps 2 --rounds 1 --base-rounds 1 --nothing-rounds 1 unless given
//   BENCH_VERBOSE=1  print each timed Nx run's output and where its time went (AUREN_TRACE=1)
// A base-image change at 20 more apps rebuilds 23 images on each side (ours also the base): the
// slow figure; --apps 5 gives a quicker growth curve.
import {
  SEED_APPS, affectedPush, benchFolder, checkMission, cloneOn, currentBase, describeNothing, enableMission, flags, fmt, median,
  nothingAffected, nxAloneTwin, nxOk, ratio, seedLoop, showVerbose, startTestRegistry, timed,
} from './lib/kit.mjs';

const quick = process.argv.includes('--quick');
const opts = flags({ apps: quick ? 2 : 20, rounds: quick ? 1 : 3, 'base-rounds': 1, 'nothing-rounds': quick ? 1 : 15, quick: false, keep: false });

const folder = benchFolder('scale');
const registry = await startTestRegistry();
try {
  const oursMachine = folder.machine('ours');
  const refMachine = folder.machine('reference');
  const ws = await cloneOn(folder, oursMachine, registry.host);
  console.log(`bench folder ${folder.dir}, clone ${ws.dir}, registry ${registry.host}; ${opts.apps} more apps, ${opts.rounds} round(s), ${opts['base-rounds']} base-image round(s)`);
  console.log('note: the ratios are only figures on an idle machine (the lead takes those); on a loaded one this is a smoke test');

  let t = await timed(() => enableMission(ws));
  console.log(`setup: database published, findings accepted (${t.value.join(', ')}) ${fmt(t.ms)}`);
  t = await timed(() => nxOk(ws, ['run-many', '-t', 'docker-push']));
  console.log(`setup: first release of every project ${fmt(t.ms)}`);

  let version = 0;
  const seed = async (apps) => {
    const base = await currentBase(registry.host); // untimed: the seed pulled whatever debian was
    return timed(() => seedLoop({ ws, machine: refMachine, registryHost: registry.host, apps, version: `0.0.${++version}`, base }));
  };
  let change = 0;
  const appChange = () => ws.commit(`fix(auren-api): bench change ${++change}`, { 'apps/auren-api/auren/__init__.py': `# bench change ${change}\n` });
  // A real change of the image (its config), not a comment: the base build is reproducible, and
  // a comment could leave its digest as it was, and the seed's layer cache answering.
  const baseChange = () => ws.commit(`fix(base-image): bench base change ${++change}`, { 'tools/base-image/Dockerfile': `ENV AUREN_BENCH_BASE_CHANGE=${change}\n` });
  const digests = (apps) => Object.fromEntries(apps.map((app) => [app, checkMission(ws, app)]));

  /** The three figures with `apps` in the workspace (every app, the base image aside). */
  async function measure(label, apps) {
    // Warm-up, untimed: a one-app change on our side (the graph of this size is computed), the
    // seed's loop over every app (its storage holds every app's layers).
    await appChange();
    await affectedPush(ws);
    await seed(apps);

    const one = { ours: [], seed: [] };
    for (let i = 0; i < opts.rounds; i++) {
      await appChange();
      const ours = await timed(() => affectedPush(ws));
      showVerbose(`${label}: one-app change, round ${i + 1}`, ours.value);
      checkMission(ws, 'auren-api');
      const ref = await seed(apps);
      one.ours.push(ours.ms);
      one.seed.push(ref.ms);
      console.log(`${label}: one-app change, round ${i + 1}: nx affected ${fmt(ours.ms)}, seed loop over ${apps.length} apps ${fmt(ref.ms)}`);
    }

    const base = { ours: [], seed: [] };
    for (let i = 0; i < opts['base-rounds']; i++) {
      const before = digests(apps);
      const baseBefore = await currentBase(registry.host);
      await baseChange();
      const ours = await timed(() => affectedPush(ws));
      showVerbose(`${label}: base-image change, round ${i + 1}`, ours.value);
      const after = digests(['base-image', ...apps]);
      const same = apps.filter((app) => after[app] === before[app]);
      if (same.length) throw new Error(`${label}: the base-image change did not rebuild ${same.join(', ')}`);
      // A new base for the seed too: its layer cache must not answer.
      if ((await currentBase(registry.host)) === baseBefore) throw new Error(`${label}: the base-image change left base-debian:bookworm at ${baseBefore}`);
      const ref = await seed(apps);
      base.ours.push(ours.ms);
      base.seed.push(ref.ms);
      console.log(`${label}: base-image change, round ${i + 1}: nx affected ${fmt(ours.ms)}, seed loop over the same ${apps.length} apps FROM the new base ${fmt(ref.ms)}, ratio ${ratio(ours.ms, ref.ms)}`);
    }

    const nothing = await nothingAffected(ws, await nxAloneTwin(folder, ws, `nx-alone-${apps.length}`), opts['nothing-rounds']);
    for (const line of describeNothing(nothing)) console.log(`${label}: ${line}`);
    return {
      apps: apps.length,
      one: { ours: median(one.ours), seed: median(one.seed) },
      base: { ours: median(base.ours), seed: median(base.seed) },
      nothing,
    };
  }

  const small = await measure(`${SEED_APPS.length} apps`, SEED_APPS);

  const added = Array.from({ length: opts.apps }, (_, i) => `bench-svc-${String(i + 1).padStart(2, '0')}`);
  t = await timed(async () => {
    for (const name of added) await nxOk(ws, ['g', '@auren/registry-plugin:docker-app', name, '--no-interactive']);
    await ws.git('add', '-A');
    await ws.git('commit', '-q', '-m', `feat(bench): ${added.length} more services from the docker-app generator`);
    return nxOk(ws, ['affected', '-t', 'docker-push', '--base=HEAD~1', '--head=HEAD']);
  });
  for (const name of added) checkMission(ws, name);
  const projects = JSON.parse((await ws.nx(['show', 'projects', '--withTarget', 'docker-push', '--json'])).stdout).filter((p) => p !== 'base-image');
  if (projects.length !== SEED_APPS.length + added.length) throw new Error(`expected ${SEED_APPS.length + added.length} apps with docker-push, found ${projects.join(', ')}`);
  console.log(`setup: ${added.length} services generated, committed and released ${fmt(t.ms)}`);

  const large = await measure(`${projects.length} apps`, [...SEED_APPS, ...added]);

  const row = (name, a, b) => `${name.padEnd(44)} ${a.padStart(16)} ${b.padStart(16)}`;
  const growth = (a, b) => `${(b / a).toFixed(2)}×`;
  console.log(`\n${row('', `${small.apps} apps`, `${large.apps} apps`)}  growth`);
  console.log(`${row('one-app change: nx affected', fmt(small.one.ours), fmt(large.one.ours))}  ${growth(small.one.ours, large.one.ours)} (target: flat, beyond Nx's graph)`);
  console.log(`${row('  seed loop over every app', fmt(small.one.seed), fmt(large.one.seed))}  ${growth(small.one.seed, large.one.seed)}`);
  console.log(`${row('  ratio', ratio(small.one.ours, small.one.seed), ratio(large.one.ours, large.one.seed))}`);
  console.log(`${row('base-image change: nx affected', fmt(small.base.ours), fmt(large.base.ours))}  ${growth(small.base.ours, large.base.ours)}`);
  console.log(`${row('  seed loop over the same apps, new base', fmt(small.base.seed), fmt(large.base.seed))}  ${growth(small.base.seed, large.base.seed)}`);
  console.log(`${row('  ratio', ratio(small.base.ours, small.base.seed), ratio(large.base.ours, large.base.seed))}`);
  console.log(`${row('nothing affected', fmt(small.nothing.ours), fmt(large.nothing.ours))}  ${growth(small.nothing.ours, large.nothing.ours)}`);
  console.log(`${row('  nx show projects', fmt(small.nothing.floor), fmt(large.nothing.floor))}  ${growth(small.nothing.floor, large.nothing.floor)}`);
  console.log(`${row('  ratio (target ≤ 1.1×)', ratio(small.nothing.ours, small.nothing.floor), ratio(large.nothing.ours, large.nothing.floor))}`);
  console.log(`${row('  Nx alone: the same ratio without the plugin', ratio(small.nothing.alone.ours, small.nothing.alone.floor), ratio(large.nothing.alone.ours, large.nothing.alone.floor))}`);
  console.log(`${row("  the plugin's share of affected − show", `${small.nothing.share.toFixed(0)} ms`, `${large.nothing.share.toFixed(0)} ms`)}`);
} finally {
  await registry.stop();
  if (opts.keep) console.log(`kept ${folder.dir} and the clone (printed above); remove both when done`);
  else await folder.remove();
}
