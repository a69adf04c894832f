/**
 * One bad task fails that task, never the batch process that runs the others. What escapes a
 * task's work (an exception thrown in a callback, a rejection nobody awaits, a stream's 'error'
 * with no listener) would end a Node process, and with it every task of the batch. The batch
 * runs in a process of its own, as under Nx: Jest keeps such errors from the process.
 */
import { outcome, runBatchProcess, useBatchFolder } from './batch-process.testing';

const work = useBatchFolder();

/** Runs the tasks of `tasks` (JavaScript: an object of id → function returning a promise) as one batch. */
function batchProcess(tasks: string, dependencies: Record<string, string[]> = {}) {
  return runBatchProcess(
    work(),
    `const { runTaskBatch } = plugin('lib/exec/batch.ts');
    const { PassThrough } = require('node:stream');
    const work = ${tasks};
    const batch = { tasks: Object.fromEntries(Object.keys(work).map((id) => [id, { id }])), dependencies: ${JSON.stringify(dependencies)} };`,
    "runTaskBatch(batch, (task) => work[task.id](), { error: (message) => console.error(message) })",
  );
}

describe('a batch whose task fails outside its promise', () => {
  it('fails that task and runs the next: an exception in a callback, a rejection nobody awaits, a stream error', async () => {
    const { results, exitCode, stderr } = await batchProcess(`{
      'a:scan': () => new Promise(() => setTimeout(() => { throw new Error('thrown in a timer of a:scan'); }, 10)),
      'b:scan': async () => { void Promise.reject(new Error('rejected in b:scan, never awaited')); return { success: true }; },
      'c:scan': () => new Promise(() => setTimeout(() => new PassThrough().emit('error', new Error('stream error in c:scan')), 10)),
      'd:scan': async () => { await new Promise((r) => setTimeout(r, 20)); console.info('d ran'); return { success: true }; },
    }`);
    expect({ exitCode, stderr: exitCode ? stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
    expect(outcome(results)).toEqual([['a:scan', 'failure'], ['b:scan', 'failure'], ['c:scan', 'failure'], ['d:scan', 'success']]);
    expect(results[0].result.terminalOutput).toContain('thrown in a timer of a:scan');
    expect(results[1].result.terminalOutput).toContain('rejected in b:scan, never awaited');
    expect(results[2].result.terminalOutput).toContain('stream error in c:scan');
    expect(results[3].result.terminalOutput).toContain('d ran');
    expect(results[3].result.terminalOutput).not.toMatch(/a:scan|b:scan|c:scan/);
  }, 60_000);

  it('skips a task whose dependency failed, and runs the tasks that do not depend on it', async () => {
    const { results } = await batchProcess(`{
      'b:scan': async () => ({ success: true }),
      'a:docker-build': () => new Promise(() => setTimeout(() => { throw new Error('a:docker-build broke'); }, 10)),
      'a:scan': async () => ({ success: true }),
    }`, { 'a:scan': ['a:docker-build'] });
    expect(outcome(results)).toEqual([['b:scan', 'success'], ['a:docker-build', 'failure'], ['a:scan', 'skipped']]);
    expect(results[2].result.terminalOutput).toBe('a:scan: skipped, a:docker-build failed\n');
  }, 60_000);
});
