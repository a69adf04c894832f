// Issue target (any machine, same result): `npm start` on a second machine, at a released commit,
// mostly downloads: ≤ 1.5× `skopeo copy --all` of the same released images from the registry
// into OCI layouts on disk, measured in the same run.
//
// Machine A (a clone with its own Nx cache and buildah storage) releases everything into a fresh
// registry first (a full build: minutes). Then, per round, machine B is a new `git clone` of A
// (release tags included) with an empty Nx cache and empty buildah storage.
// Usage: node bench/second-machine.mjs [--rounds 2]
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';

const require = createRequire(import.meta.url);
require('@swc-node/register');
const { startTestRegistry } = require('../libs/registry-plugin/src/testing/registry-server.ts');
const { cloneWorkspace } = require('../libs/registry-plugin/src/e2e/workspace.ts');

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2' } } });
const rounds = Number(values.rounds);
const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);
const REPOS = ['base-debian', 'auren-api', 'biometric-bridge', 'auren-nginx'];
const temp = [];
const tempDir = (prefix) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temp.push(dir);
  return dir;
};
const machine = (name, registry) => ({
  AUREN_REGISTRY: `${registry}/auren`,
  NX_CACHE_DIRECTORY: tempDir(`bench-nx-${name}-`),
  STORAGE_DRIVER: 'overlay',
  AUREN_BUILDAH_ROOT: join(tempDir(`bench-buildah-${name}-`), 'root'),
});
const seconds = (ms) => (ms / 1000).toFixed(1);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function npmStart(dir, env) {
  utimesSync(join(dir, 'package-lock.json'), new Date(0), new Date(0)); // the shared node_modules is current
  const t = Date.now();
  await run('npm', ['start'], { cwd: dir, env, maxBuffer: 256 * 1024 * 1024 });
  return Date.now() - t;
}

const registry = await startTestRegistry();
try {
  const a = await cloneWorkspace(machine('a', registry.host));
  console.log(`machine A releases everything into ${registry.host} (a full build)…`);
  console.log(`machine A: npm start ${seconds(await npmStart(a.dir, a.env))} s`);
  const ours = [];
  const reference = [];
  for (let i = 0; i < rounds; i++) {
    const dir = tempDir('bench-machine-b-');
    await run('git', ['clone', '-q', a.dir, dir]);
    // Machine A's clone committed its node_modules link (.gitignore's `node_modules/` matches folders only).
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    ours.push(await npmStart(dir, { ...a.env, ...machine(`b${i}`, registry.host) }));
    const out = tempDir('bench-skopeo-');
    const t = Date.now();
    for (const repo of REPOS) {
      await run('skopeo', ['copy', '--all', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/auren/${repo}:v0.1.0`, `oci:${join(out, repo)}:v0.1.0`]);
    }
    reference.push(Date.now() - t);
    console.log(`round ${i + 1}: machine B npm start ${seconds(ours[i])} s, skopeo copy --all of the 4 released images ${seconds(reference[i])} s, ratio ${(ours[i] / reference[i]).toFixed(2)}×`);
  }
  const ratio = median(ours) / median(reference);
  console.log(`second-machine npm start (median ${seconds(median(ours))} s) vs skopeo copy --all (median ${seconds(median(reference))} s): ${ratio.toFixed(2)}× (target ≤ 1.5×)`);
  await a.remove();
} finally {
  await registry.stop();
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
}
