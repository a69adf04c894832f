// Issue target for promote/mirror across registries: copying a ~150 MB image from registry A to
// registry B with our copyImage takes ≤ 1.3× `skopeo copy --all` of the same image, same run.
// Each timed copy goes into a brand-new registry B, so neither tool can mount or skip a blob it
// (or containers/image's blob-info cache) saw in an earlier round.
// Usage: node bench/copy.mjs [megabytes]   (default 150; random, incompressible layers)
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('@swc-node/register');
const { startTestRegistry } = require('../libs/registry-plugin/src/testing/registry-server.testing.ts');
const { writeTestLayout } = require('../libs/registry-plugin/src/lib/registry/layout.testing.ts');
const { createRegistryClient } = require('../libs/registry-plugin/src/lib/registry/client.ts');
const { copyImage } = require('../libs/registry-plugin/src/lib/registry/copy.ts');
const { executePush, planPush } = require('../libs/registry-plugin/src/lib/registry/push.ts');

const ROUNDS = 3;
const megabytes = Number(process.argv[2] ?? 150);
const LAYERS = 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

const image = await writeTestLayout({
  platforms: ['linux/amd64'],
  layers: LAYERS,
  layerBytes: Math.round((megabytes * 1024 * 1024) / LAYERS),
  sharedLayerBytes: 0,
});
const a = await startTestRegistry();
const targets = [];
try {
  const source = createRegistryClient({ registry: a.host });
  await executePush(source, await planPush(source, image.layout, { repository: 'bench/source', tags: ['v1'] }));

  const ours = async () => {
    const b = await startTestRegistry();
    targets.push(b);
    const started = process.hrtime.bigint();
    await copyImage({
      from: { client: createRegistryClient({ registry: a.host }), repository: 'bench/source', reference: 'v1' },
      to: { client: createRegistryClient({ registry: b.host }), repository: 'bench/ours', tags: ['v1'] },
    });
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const skopeo = async () => {
    const b = await startTestRegistry();
    targets.push(b);
    const started = process.hrtime.bigint();
    const r = spawnSync('skopeo', ['copy', '--all', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${a.host}/bench/source:v1`, `docker://${b.host}/bench/skopeo:v1`]);
    if (r.status !== 0) throw new Error(r.stderr.toString());
    return Number(process.hrtime.bigint() - started) / 1e6;
  };

  const oursMs = [];
  const skopeoMs = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate who goes first, so page-cache warmth does not favour one tool.
    if (i % 2 === 0) {
      oursMs.push(await ours());
      skopeoMs.push(await skopeo());
    } else {
      skopeoMs.push(await skopeo());
      oursMs.push(await ours());
    }
    while (targets.length) await targets.pop().stop();
  }
  const ratio = median(oursMs) / median(skopeoMs);
  console.log(`image: ${(image.layout.size / 1e6).toFixed(0)} MB in ${image.layout.blobs.length} blobs, A → B (fresh registry each copy), median of ${ROUNDS}`);
  console.log(`copyImage:        ${fmt(median(oursMs))}  (${oursMs.map(fmt).join(', ')})`);
  console.log(`skopeo copy --all ${fmt(median(skopeoMs))}  (${skopeoMs.map(fmt).join(', ')})`);
  console.log(`ratio ${ratio.toFixed(2)} (target ≤ 1.30)`);
} finally {
  for (const b of targets) await b.stop();
  await a.stop();
  rmSync(image.dir, { recursive: true, force: true });
}
