// Child process of bench/push.mjs: pushes one OCI layout and reports time and peak memory.
require('../libs/registry-plugin/bin/register.js');
const { createRegistryClient } = require('../libs/registry-plugin/src/lib/registry/client.ts');
const { readOciLayout } = require('../libs/registry-plugin/src/lib/registry/layout.ts');
const { planPush, executePush } = require('../libs/registry-plugin/src/lib/registry/push.ts');

async function main() {
  const [registry, layoutDir, repository, tagList] = process.argv.slice(2);
  let requests = 0;
  const methods = {};
  const client = createRegistryClient({ registry, onRequest: (method) => { requests++; methods[method] = (methods[method] ?? 0) + 1; } });
  const started = process.hrtime.bigint();
  const layout = await readOciLayout(layoutDir);
  const plan = await planPush(client, layout, { repository, tags: tagList.split(',') });
  const result = await executePush(client, plan);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(JSON.stringify({ ms, maxRssKb: process.resourceUsage().maxRSS, requests, methods, uploaded: result.uploaded, bytes: result.bytesUploaded }) + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
