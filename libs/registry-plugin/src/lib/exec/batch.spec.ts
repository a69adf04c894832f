/**
 * One bad task fails that task, never the batch process that runs the others. What escapes a
 * task's work (an exception thrown in a callback, a rejection nobody awaits, a stream's 'error'
 * with no listener) would end a Node process, and with it every task of the batch. The batch
 * runs in a process of its own, as under Nx: Jest keeps such errors from the process.
 */
import { outcome, runBatchProcess, useBatchFolder } from './batch-process.testing';

const work = useBatchFolder();

/** Runs the tasks of `tasks` (JavaScript: an object of id → function returning a promise) as one batch. */
function batchProcess(tasks: string, dependencies: Record<string, string[]> = {}, concurrency = 1) {
  return runBatchProcess(
    work(),
    `const { runTaskBatch } = plugin('lib/exec/batch.ts');
    const { PassThrough } = require('node:stream');
    const work = ${tasks};
    const batch = { tasks: Object.fromEntries(Object.keys(work).map((id) => [id, { id }])), dependencies: ${JSON.stringify(dependencies)} };`,
    `runTaskBatch(batch, (task) => work[task.id](), { error: (message) => console.error(message) }, { concurrency: ${concurrency} })`,
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

  it('fails a task that throws before it returns a promise, and runs the next', async () => {
    const { results, exitCode } = await batchProcess(`{
      'a:scan': () => { throw new Error('thrown at once by a:scan'); },
      'b:scan': async () => ({ success: true }),
    }`);
    expect(exitCode).toBe(0);
    expect(outcome(results)).toEqual([['a:scan', 'failure'], ['b:scan', 'success']]);
    expect(results[0].result.terminalOutput).toContain('thrown at once by a:scan');
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

describe('a batch that runs tasks side by side (concurrency above 1)', () => {
  // Each task logs when it starts and ends into `events`; `meet(id, other)` waits (at most 5 s)
  // until the other task has started, so two tasks only both succeed if they ran at once.
  const prelude = `(() => {
    const events = [];
    const started = new Set();
    const meet = async (id, other) => {
      started.add(id);
      for (let i = 0; i < 500 && !started.has(other); i++) await new Promise((r) => setTimeout(r, 10));
      return started.has(other);
    };
    globalThis.events = events; globalThis.meet = meet;
  })()`;

  it('runs independent tasks at the same time, and each keeps only its own output', async () => {
    const { results, exitCode } = await batchProcess(`(${prelude}, {
      'a:docker-build': async () => { console.info('a one'); const met = await meet('a', 'b'); await new Promise((r) => setTimeout(r, 30)); console.info('a two'); return { success: met }; },
      'b:docker-build': async () => { console.info('b one'); const met = await meet('b', 'a'); console.info('b two'); return { success: met }; },
    })`, {}, 2);
    expect(exitCode).toBe(0);
    expect(outcome(results).sort()).toEqual([['a:docker-build', 'success'], ['b:docker-build', 'success']]);
    const output = Object.fromEntries(results.map((r) => [r.task, r.result.terminalOutput]));
    expect(output['a:docker-build']).toBe('a one\na two\n');
    expect(output['b:docker-build']).toBe('b one\nb two\n');
  }, 60_000);

  it('never starts a task before the tasks it depends on have succeeded, and never runs more than asked', async () => {
    const { results } = await batchProcess(`(${prelude}, (() => {
      let running = 0; let most = 0;
      const step = (id, ms) => async () => { running++; most = Math.max(most, running); events.push('start ' + id); await new Promise((r) => setTimeout(r, ms)); events.push('end ' + id); running--; console.info('most ' + most); return { success: true }; };
      return { 'a:docker-build': step('a:docker-build', 60), 'a:scan': step('a:scan', 10), 'b:docker-build': step('b:docker-build', 10), 'b:scan': step('b:scan', 10), 'c:docker-build': step('c:docker-build', 10) };
    })())`, { 'a:scan': ['a:docker-build'], 'b:scan': ['b:docker-build'] }, 2);
    expect(outcome(results).map(([, status]) => status)).toEqual(Array(5).fill('success'));
    const most = Math.max(...results.map((r) => Number(/most (\d+)/.exec(r.result.terminalOutput)?.[1])));
    expect(most).toBe(2);
    const order = results.map((r) => r.task);
    expect(order.indexOf('a:scan')).toBeGreaterThan(order.indexOf('a:docker-build'));
    expect(order.indexOf('b:scan')).toBeGreaterThan(order.indexOf('b:docker-build'));
    // The long build ends after the short tasks that ran beside it: results come as tasks end.
    expect(order[0]).not.toBe('a:docker-build');
  }, 60_000);

  it('fails only the task an escaped error came from, and skips only what depends on it', async () => {
    const { results, exitCode, stderr } = await batchProcess(`(${prelude}, {
      'a:docker-build': async () => { await meet('a', 'b'); setTimeout(() => { throw new Error('thrown in a timer of a:docker-build'); }, 5); await new Promise((r) => setTimeout(r, 200)); return { success: true }; },
      'a:scan': async () => ({ success: true }),
      'b:docker-build': async () => { await meet('b', 'a'); await new Promise((r) => setTimeout(r, 100)); console.info('b done'); return { success: true }; },
    })`, { 'a:scan': ['a:docker-build'] }, 2);
    expect({ exitCode, stderr: exitCode ? stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
    expect(outcome(results).sort()).toEqual([['a:docker-build', 'failure'], ['a:scan', 'skipped'], ['b:docker-build', 'success']]);
    const output = Object.fromEntries(results.map((r) => [r.task, r.result.terminalOutput]));
    expect(output['a:docker-build']).toContain('thrown in a timer of a:docker-build');
    expect(output['b:docker-build']).toBe('b done\n');
  }, 60_000);
});
