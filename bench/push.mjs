// Issue targets for docker-push, measured against the named references in the same run:
//  - push of a built app image into an empty repository ≤ 1.1× `skopeo copy` of the same OCI
//    layout into another empty repository of the same registry; peak memory < 120 MB (the
//    worker loads the plugin through bin/register.js, as the CLI does: no swc in memory);
//  - re-pushing an image the registry already has: only HEAD requests, < 1 s;
//  - pushing with 5 tags ≤ 1.1× pushing with 1 tag;
//  - `nx affected -t docker-push` with nothing affected < 3 s.
// Usage: node bench/push.mjs [layoutDir]   (default: dist/images/auren-api/oci; run `npm start` first)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
require('@swc-node/register');
const { startTestRegistry } = require('../libs/registry-plugin/src/testing/registry-server.testing.ts');

const root = new URL('..', import.meta.url).pathname;
const layout = process.argv[2] ?? join(root, 'dist/images/auren-api/oci');
if (!existsSync(layout)) {
  console.error(`no OCI layout at ${layout}: run \`npm start\` (or nx run auren-api:docker-build) first`);
  process.exit(2);
}
const ROUNDS = 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// Children run asynchronously: this process keeps draining the registry's output meanwhile.
const run = promisify(execFile);
const ours = async (registry, repo, tags) => {
  const { stdout } = await run(process.execPath, [join(root, 'bench/push-worker.js'), registry, layout, repo, tags]);
  return JSON.parse(stdout.trim().split('\n').pop());
};
const skopeo = async (registry, repo) => {
  const t = process.hrtime.bigint();
  await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}`, `docker://${registry}/${repo}:v1`]);
  return Number(process.hrtime.bigint() - t) / 1e6;
};

// Every measured push goes into a registry of its own: skopeo and our client both mount or skip
// blobs a registry already holds, so a shared registry would measure that, not a push.
const fresh = async (fn) => {
  const r = await startTestRegistry();
  try {
    return await fn(r.host);
  } finally {
    await r.stop();
  }
};
// Sources changed since their last compile are compiled once here, so no measured push pays for
// loading the TypeScript compiler (bin/register.js caches each file's JavaScript by content).
await run(process.execPath, ['-e', `require(${JSON.stringify(join(root, 'bench/push-worker.js').replace('push-worker.js', '../libs/registry-plugin/bin/register.js'))}); for (const m of ['client', 'layout', 'push']) require(${JSON.stringify(join(root, 'libs/registry-plugin/src/lib/registry'))} + '/' + m + '.ts');`]);
// The floor: a bare Node process.
const baseMb = (Number((await run(process.execPath, ['-e', 'process.stdout.write(String(process.resourceUsage().maxRSS))'])).stdout) / 1024).toFixed(0);
const reg = await startTestRegistry();
try {
  const oursMs = [], skopeoMs = [], rss = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = await fresh((host) => ours(host, 'bench/ours', 'v1'));
    oursMs.push(r.ms); rss.push(r.maxRssKb);
    skopeoMs.push(await fresh((host) => skopeo(host, 'bench/skopeo')));
  }
  await ours(reg.host, 'bench/ours-0', 'v1');
  const again = await ours(reg.host, 'bench/ours-0', 'v1');
  const one = [], five = [];
  for (let i = 0; i < ROUNDS; i++) {
    one.push((await fresh((host) => ours(host, 'bench/tags1', 'v1'))).ms);
    five.push((await fresh((host) => ours(host, 'bench/tags5', 'v1,main-abc1234,20260101-0000,dev,latest'))).ms);
  }
  const nxStart = process.hrtime.bigint();
  await run('npx', ['nx', 'affected', '-t', 'docker-push', '--base=HEAD', '--head=HEAD'], { cwd: root, env: { ...process.env, NX_DAEMON: 'false' } });
  const nxMs = Number(process.hrtime.bigint() - nxStart) / 1e6;
  // With the Nx daemon (the default outside CI): the first call starts it, the second is measured.
  await run('npx', ['nx', 'affected', '-t', 'docker-push', '--base=HEAD', '--head=HEAD'], { cwd: root, env: { ...process.env, NX_DAEMON: 'true' } });
  const daemonStart = process.hrtime.bigint();
  await run('npx', ['nx', 'affected', '-t', 'docker-push', '--base=HEAD', '--head=HEAD'], { cwd: root, env: { ...process.env, NX_DAEMON: 'true' } });
  const nxDaemonMs = Number(process.hrtime.bigint() - daemonStart) / 1e6;
  // A bench leaves nothing running (Nx starts the daemon again when it is wanted).
  await run('npx', ['nx', 'daemon', '--stop'], { cwd: root });

  const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`layout: ${layout}`);
  console.log(`push into empty repo:   ours ${fmt(median(oursMs))}  skopeo copy ${fmt(median(skopeoMs))}  ratio ${(median(oursMs) / median(skopeoMs)).toFixed(2)} (target ≤ 1.10)`);
  console.log(`peak memory of push:    ${(Math.max(...rss) / 1024).toFixed(0)} MB (target < 120 MB; node -e 1: ${baseMb} MB)`);
  console.log(`re-push, all present:   ${fmt(again.ms)}, requests ${JSON.stringify(again.methods)} (target: HEAD only, < 1 s)`);
  console.log(`5 tags vs 1 tag:        ${fmt(median(five))} vs ${fmt(median(one))}  ratio ${(median(five) / median(one)).toFixed(2)} (target ≤ 1.10)`);
  console.log(`nx affected, nothing affected: ${fmt(nxMs)} without the daemon, ${fmt(nxDaemonMs)} with it (target < 3 s)`);
} finally {
  await reg.stop();
}
