// `npm start` on a second, clean machine at a released commit costs little more than
// pulling its images: ≤ 3× `skopeo copy --all` of the same released images from the registry
// into OCI layouts on disk, measured in the same run.
//
// Machine A (a clone with its own Nx cache, builder storage, temp folder and Trivy cache) turns
// the whole default mission on (the fixture vulnerability database published into a throw-away
// registry, its findings accepted and committed) and releases everything with `npm start` (a
// full build, the base image's root filesystem included: minutes; untimed). Then, per round,
// machine B is a new `git clone` of A (release tags included) with an empty Nx cache, builder
// storage, temp folder and Trivy cache of its own; `npm start` there is timed, and so is
// `skopeo copy --all` of the four released images into a new folder, the reference. B finds the
// release complete in the registry (`auren-registry released`) and runs no pipeline; each round
// says which way B went. `AUREN_FULL_RUN=1 node bench/second-machine.mjs` times B's whole
// pipeline instead (each release fetched and scanned again).
// One platform (linux/amd64) unless AUREN_PLATFORMS says otherwise.
//
// Usage: node bench/second-machine.mjs [--rounds 2] [--keep]
//   BENCH_VERBOSE=1   print machine B's output and where its time went (AUREN_TRACE=1)
import { existsSync, mkdirSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT, benchFolder, checkMission, cloneOn, enableMission, flags, fmt, median, run, showVerbose, startTestRegistry, stripAnsi, timed,
} from './lib/kit.mjs';

const opts = flags({ rounds: 2, keep: false });
const REPOS = ['base-debian', 'auren-api', 'biometric-bridge', 'auren-nginx'];
const APPS = ['base-image', 'auren-api', 'biometric-bridge', 'auren-nginx'];

async function npmStart(dir, env) {
  utimesSync(join(dir, 'package-lock.json'), new Date(0), new Date(0)); // the shared node_modules is current
  const r = await timed(() => run('npm', ['start'], { cwd: dir, env, maxBuffer: 256 * 1024 * 1024 }));
  return { ms: r.ms, output: stripAnsi(`${r.value.stdout}\n${r.value.stderr}`) };
}

const folder = benchFolder('second-machine');
const registry = await startTestRegistry();
try {
  const a = await cloneOn(folder, folder.machine('a'), registry.host);
  console.log(`bench folder ${folder.dir}, machine A ${a.dir}, registry ${registry.host}`);
  console.log('note: the ratio is only a figure on an idle machine (the lead takes those); on a loaded one it is a smoke test');
  const accepted = await enableMission(a);
  console.log(`machine A: database published, findings accepted (${accepted.join(', ')}); releasing everything (a full build)…`);
  const first = await npmStart(a.dir, a.env);
  for (const project of APPS) checkMission(a, project);
  console.log(`machine A: npm start ${fmt(first.ms)} (untimed setup)`);

  const ours = [];
  const reference = [];
  for (let i = 0; i < opts.rounds; i++) {
    const b = folder.machine(`b${i}`);
    const dir = join(folder.dir, `b${i}`, 'workspace');
    await run('git', ['clone', '-q', a.dir, dir]);
    // Machine A's clone committed its node_modules link (.gitignore's `node_modules/` matches folders only).
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const started = await npmStart(dir, { ...a.env, ...b });
    showVerbose(`round ${i + 1} machine B npm start`, started.output);
    ours.push(started.ms);
    const out = join(b.TMPDIR, 'skopeo');
    mkdirSync(out);
    const copy = await timed(async () => {
      for (const repo of REPOS) {
        await run('skopeo', ['copy', '--all', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/auren/${repo}:v0.1.0`, `oci:${join(out, repo)}:v0.1.0`], { env: { ...process.env, TMPDIR: b.TMPDIR } });
      }
    });
    reference.push(copy.ms);
    const path = started.output.includes('start: this commit is released') ? 'release complete, nothing run' : 'the whole pipeline ran';
    console.log(`round ${i + 1}: machine B npm start ${fmt(ours[i])} (${path}), skopeo copy --all of the ${REPOS.length} released images ${fmt(reference[i])}, ratio ${(ours[i] / reference[i]).toFixed(2)}×`);
  }
  const r = median(ours) / median(reference);
  console.log(`second-machine npm start (median ${fmt(median(ours))}) vs skopeo copy --all (median ${fmt(median(reference))}): ${r.toFixed(2)}× (target ≤ 3×)`);
} finally {
  await registry.stop();
  if (opts.keep) console.log(`kept ${folder.dir} and machine A's clone (printed above); remove both when done`);
  else await folder.remove();
}
