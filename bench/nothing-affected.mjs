// "Nothing affected" stays at Nx's floor. In a clone with its own (empty) Nx cache,
// `nx affected -t docker-push --base=HEAD --head=HEAD` (no project changed: no task runs)
// against `nx show projects` (Nx reading the workspace and the project graph, nothing more),
// each warmed once untimed, then `--rounds` timed runs of each, alternating which goes first.
// Prints both medians and the ratio. Target: ≤ 1.1×. The daemon is off (NX_DAEMON=false), as
// in CI and in the other benches.
//
// Usage: node bench/nothing-affected.mjs [--rounds 5] [--keep]
import { benchFolder, cloneOn, flags, fmt, nothingAffected, ratio, startTestRegistry } from './lib/kit.mjs';

const opts = flags({ rounds: 5, keep: false });
const folder = benchFolder('nothing-affected');
// Nothing is built or pushed; the registry is there so that nothing can reach another one.
const registry = await startTestRegistry();
try {
  const ws = await cloneOn(folder, folder.machine('ours'), registry.host);
  console.log(`bench folder ${folder.dir}, clone ${ws.dir}`);
  console.log('note: the ratio is only a figure on an idle machine (the lead takes those); on a loaded one it is a smoke test');
  const r = await nothingAffected(ws, opts.rounds);
  console.log(`runs (ms): nx affected ${r.all.ours.map((ms) => ms.toFixed(0)).join(', ')}; nx show projects ${r.all.floor.map((ms) => ms.toFixed(0)).join(', ')}`);
  console.log(`nothing affected ${fmt(r.ours)} vs nx show projects ${fmt(r.floor)} (medians of ${opts.rounds}): ${ratio(r.ours, r.floor)} (target ≤ 1.1×)`);
} finally {
  await registry.stop();
  if (opts.keep) console.log(`kept ${folder.dir} and the clone (printed above); remove both when done`);
  else await folder.remove();
}
