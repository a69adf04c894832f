import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exec } from './exec';

/**
 * A batch run in a node process of its own, as Nx runs one: Jest would keep an escaped error
 * from ending the process, which is the failure these tests look for.
 */
const PLUGIN = resolve(__dirname, '../../..');

export interface BatchResult {
  task: string;
  result: { success: boolean; status?: string; terminalOutput: string };
}

/** A temporary folder for the spec's batches, made before its tests and removed after them. */
export function useBatchFolder(): () => string {
  let work = '';
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'auren-batch-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  return () => work;
}

/**
 * Runs `setup` (JavaScript, with `plugin(path)` requiring a file of the plugin's src/), then
 * collects what the async iterable `batch` yields; the process's exit code and stderr.
 */
export async function runBatchProcess(work: string, setup: string, batch: string, env: NodeJS.ProcessEnv = process.env): Promise<{ results: BatchResult[]; exitCode: number; stderr: string }> {
  const out = join(work, `results-${Date.now()}.json`);
  const script = `
    require(${JSON.stringify(join(PLUGIN, 'bin/register.js'))});
    const plugin = (path) => require(${JSON.stringify(join(PLUGIN, 'src'))} + '/' + path);
    ${setup}
    (async () => {
      const results = [];
      for await (const r of ${batch}) results.push(r);
      require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(results));
    })();
  `;
  const { exitCode, stderr } = await exec(process.execPath, ['-e', script], { cwd: work, env, okExitCodes: [0, 1, 2, 7, 134] });
  const results = JSON.parse(await readFile(out, 'utf8').catch(() => '[]')) as BatchResult[];
  return { results, exitCode, stderr };
}

/** [task, status] per result: `success`, `failure` or the status the batch gave. */
export const outcome = (results: BatchResult[]) => results.map((r) => [r.task, r.result.status ?? (r.result.success ? 'success' : 'failure')]);
