/**
 * One bad task fails that task, never the batch process that runs the others: here a scan that
 * meets a hostile layer, in Nx batch mode. lib/exec/batch.spec.ts has what escapes a task's
 * promise. These run the batch in a process of its own, as Nx does: Jest keeps such errors from
 * the process.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { exec } from '../../lib/exec/exec';
import { tarBlock, writeHostileImage } from '../../lib/scanners/hostile-tar.testing';
import { writeOciLayout } from '../../lib/scanners/oci-fixture.testing';

const PLUGIN = resolve(__dirname, '../../..');

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'auren-batch-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Result {
  task: string;
  result: { success: boolean; status?: string; terminalOutput: string };
}

/** Runs `body` (JavaScript, with batchImageExecutor and helpers in scope) in a node process of its own; its results. */
async function batchProcess(body: string, env: NodeJS.ProcessEnv = process.env): Promise<{ results: Result[]; exitCode: number; stderr: string }> {
  const out = join(work, `results-${Date.now()}.json`);
  const script = `
    require(${JSON.stringify(join(PLUGIN, 'bin/register.js'))});
    const { batchImageExecutor } = require(${JSON.stringify(join(PLUGIN, 'src/executors/image/executor.ts'))});
    const graph = (ids) => ({
      roots: ids,
      tasks: Object.fromEntries(ids.map((id) => [id, { id, target: { project: id.split(':')[0], target: id.split(':')[1] }, overrides: {}, outputs: [] }])),
      dependencies: Object.fromEntries(ids.map((id) => [id, []])),
      continuousDependencies: {},
    });
    (async () => {
      const results = [];
      for await (const r of (${body})()) results.push(r);
      require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(results));
    })();
  `;
  const { exitCode, stderr } = await exec(process.execPath, ['-e', script], { cwd: work, env, okExitCodes: [0, 1, 2, 7, 134] });
  const results = JSON.parse(await readFile(out, 'utf8').catch(() => '[]')) as Result[];
  return { results, exitCode, stderr };
}

const outcome = (results: Result[]) => results.map((r) => [r.task, r.result.status ?? (r.result.success ? 'success' : 'failure')]);

describe('a batch of scans', () => {
  it('fails the scan of an image with a crafted layer, and scans the next image', async () => {
    const root = join(work, 'workspace');
    const bad = join(root, 'dist/images/bad');
    const good = join(root, 'dist/images/good');
    await mkdir(bad, { recursive: true });
    await mkdir(good, { recursive: true });
    // A layer whose first header is a PAX header of 1 GiB (hostile-layers.spec has the others).
    const hostile = await writeHostileImage(bad, [tarBlock({ name: 'PaxHeaders/f', type: 'x', size: 1024 ** 3 }), { zeros: 1024 ** 3 }]);
    const fine = await writeOciLayout([{ user: '10001', layers: [[{ name: 'etc/a', content: 'a\n' }]] }], good);
    const record = (project: string, digest: string, size: number) => writeFile(join(root, 'dist/images', project, 'image.json'), JSON.stringify({
      schemaVersion: 1, project, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', platforms: ['linux/amd64'], size, labels: {}, builder: { name: 'buildah', version: '1.28.2' },
    }));
    await record('bad', hostile.digest, hostile.size);
    await record('good', fine.digest, fine.size);
    const { results, exitCode, stderr } = await batchProcess(`() => {
      const ids = ['bad:scan', 'good:scan'];
      const taskGraph = graph(ids);
      const projects = { bad: { root: 'apps/bad', targets: {} }, good: { root: 'apps/good', targets: {} } };
      const context = {
        root: ${JSON.stringify(root)}, cwd: ${JSON.stringify(root)}, isVerbose: false,
        nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: { registry: '127.0.0.1:9', namespace: 'auren', scan: { scanner: 'grype' } } }] },
        projectsConfigurations: { version: 2, projects }, projectGraph: { nodes: {}, dependencies: {} }, taskGraph,
      };
      return batchImageExecutor(taskGraph, { 'bad:scan': { step: 'scan' }, 'good:scan': { step: 'scan' } }, { step: 'scan' }, context);
    }`, { ...process.env, PATH: dirname(process.execPath), AUREN_LAYER_CACHE: 'false' });
    expect({ exitCode, stderr: exitCode ? stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
    expect(outcome(results)).toEqual([['bad:scan', 'failure'], ['good:scan', 'success']]);
    expect(results[0].result.terminalOutput).toMatch(/PAX header of 1073741824 bytes at offset 0: more than the 1 MiB/);
    expect(results[1].result.terminalOutput).toMatch(/good: scan not-scanned/);
  }, 120_000);
});
