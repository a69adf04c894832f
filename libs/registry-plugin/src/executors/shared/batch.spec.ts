/**
 * One bad task fails that task, never the batch process that runs the others: here a scan that
 * meets a hostile layer, in Nx batch mode. lib/exec/batch.spec.ts has what escapes a task's
 * promise. These run the batch in a process of its own, as Nx does: Jest keeps such errors from
 * the process.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { outcome, runBatchProcess, useBatchFolder } from '../../lib/exec/batch-process.testing';
import { batchConcurrency } from './batch';
import { tarBlock, writeHostileImage } from '../../lib/scanners/hostile-tar.testing';
import { writeOciLayout } from '../../lib/scanners/oci-fixture.testing';

const batchFolder = useBatchFolder();

/** Runs `body` (JavaScript, with batchImageExecutor and helpers in scope) as one batch; its results. */
function batchProcess(body: string, env: NodeJS.ProcessEnv = process.env) {
  return runBatchProcess(
    batchFolder(),
    `const { batchImageExecutor } = plugin('executors/image/executor.ts');
    const graph = (ids) => ({
      roots: ids,
      tasks: Object.fromEntries(ids.map((id) => [id, { id, target: { project: id.split(':')[0], target: id.split(':')[1] }, overrides: {}, outputs: [] }])),
      dependencies: Object.fromEntries(ids.map((id) => [id, []])),
      continuousDependencies: {},
    });`,
    `(${body})()`,
    env,
  );
}

describe('a batch of scans', () => {
  it('fails the scan of an image with a crafted layer, and scans the next image', async () => {
    const root = join(batchFolder(), 'workspace');
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

describe('how many tasks of a batch run at once', () => {
  it("is nx.json's parallel, else Nx's default of 3, never more than the cores", () => {
    expect(batchConcurrency({}, undefined, 8)).toBe(3);
    expect(batchConcurrency({}, undefined, 2)).toBe(2);
    expect(batchConcurrency({}, 5, 8)).toBe(5);
    expect(batchConcurrency({}, 1, 8)).toBe(1);
    expect(batchConcurrency({}, 0, 8)).toBe(3);
  });

  it('AUREN_BATCH_CONCURRENCY decides when set (trimmed, blank is unset); anything but a whole number from 1 is refused', () => {
    expect(batchConcurrency({ AUREN_BATCH_CONCURRENCY: '1' }, 4, 8)).toBe(1);
    expect(batchConcurrency({ AUREN_BATCH_CONCURRENCY: '6' }, 2, 2)).toBe(6);
    expect(batchConcurrency({ AUREN_BATCH_CONCURRENCY: ' 2 ' }, undefined, 8)).toBe(2);
    expect(batchConcurrency({ AUREN_BATCH_CONCURRENCY: ' ' }, undefined, 2)).toBe(2);
    for (const bad of ['0', '-1', '1.5', 'two', '1000']) {
      expect(() => batchConcurrency({ AUREN_BATCH_CONCURRENCY: bad }, undefined, 2)).toThrow(/AUREN_BATCH_CONCURRENCY=.* is not a whole number from 1 to 999/);
    }
  });
});
