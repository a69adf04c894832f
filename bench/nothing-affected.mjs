// "Nothing affected" stays at Nx's floor. In a clone with its own (empty) Nx cache,
// `nx affected -t docker-push --base=HEAD --head=HEAD` (no project changed: no task runs)
// against `nx show projects` (Nx reading the workspace and the project graph, nothing more).
// The control, in the same run: the same two commands in a twin of the clone (the same commit,
// a machine of its own) whose nx.json loads no plugin of ours, which is what Nx costs alone.
// Each command warmed once untimed, then `--rounds` timed runs of each, the order rotating.
// Prints the medians, both ratios and the plugin's share of the difference. Target: ≤ 1.1×.
// The daemon is off (NX_DAEMON=false), as in CI and in the other benches.
//
// Usage: node bench/nothing-affected.mjs [--rounds 15] [--keep]
import { benchFolder, cloneOn, describeNothing, flags, nothingAffected, nxAloneTwin, startTestRegistry } from './lib/kit.mjs';

const opts = flags({ rounds: 15, keep: false });
const folder = benchFolder('nothing-affected');
// Nothing is built or pushed; the registry is there so that nothing can reach another one.
const registry = await startTestRegistry();
try {
  const ws = await cloneOn(folder, folder.machine('ours'), registry.host);
  const twin = await nxAloneTwin(folder, ws, 'nx-alone');
  console.log(`bench folder ${folder.dir}, clone ${ws.dir}, Nx alone ${twin.dir}`);
  console.log('note: the ratio is only a figure on an idle machine (the lead takes those); on a loaded one it is a smoke test');
  const r = await nothingAffected(ws, twin, opts.rounds);
  console.log(`runs (ms): nx affected ${r.all.ours.map((ms) => ms.toFixed(0)).join(', ')}; nx show projects ${r.all.floor.map((ms) => ms.toFixed(0)).join(', ')}`);
  console.log(`medians of ${opts.rounds}:`);
  for (const line of describeNothing(r)) console.log(line);
} finally {
  await registry.stop();
  if (opts.keep) console.log(`kept ${folder.dir} and the clones (printed above); remove them when done`);
  else await folder.remove();
}
