import { AsyncLocalStorage } from 'node:async_hooks';
import type { ExecutorContext, Task, TaskGraph, TaskGraphExecutor } from '@nx/devkit';
import { AurenError, formatError } from '../../lib/errors/errors';
import { logger } from './logger';

/** What a batch implementation yields per task (the element type of TaskGraphExecutor's iterator). */
type BatchTaskResult = Awaited<ReturnType<TaskGraphExecutor>> extends infer R ? (R extends AsyncIterableIterator<infer T> ? T : never) : never;

/**
 * Nx batch mode for an executor (`batchImplementation` and `preferBatch` in executors.json): Nx
 * gives one process all the tasks of that executor it can run together, instead of starting a
 * process per task (~0.8 s each before the executor runs). The tasks run one at a time in
 * dependency order (builds share the builder's storage and the machine's cores); a task whose
 * dependency failed is skipped. Each task's output streams as it is written and is also returned
 * as the task's terminal output, which Nx keeps with the cached result.
 */
export async function* runBatch<T>(
  taskGraph: TaskGraph,
  inputs: Record<string, T>,
  context: ExecutorContext,
  executor: (options: T, context: ExecutorContext) => Promise<{ success: boolean }>,
): AsyncGenerator<BatchTaskResult> {
  const succeeded = new Map<string, boolean>();
  const escapes = new EscapeGuard();
  try {
    for (const task of dependencyOrder(taskGraph)) {
      const blocked = taskGraph.dependencies[task.id]?.find((dep) => succeeded.get(dep) === false);
      if (blocked) {
        succeeded.set(task.id, false);
        yield { task: task.id, result: { success: false, status: 'skipped', terminalOutput: `${task.id}: skipped, ${blocked} failed\n` } };
        continue;
      }
      const startTime = Date.now();
      const exitCode = process.exitCode;
      const [{ success }, terminalOutput] = await capturingOutput(() => escapes.run(task.id, () => executor(inputs[task.id], taskContext(context, task))));
      // A failed task sets the exit code for a process of its own; the batch goes on with the others.
      process.exitCode = exitCode;
      succeeded.set(task.id, success);
      yield { task: task.id, result: { success, terminalOutput, startTime, endTime: Date.now() } };
    }
  } finally {
    escapes.close();
  }
}

/**
 * What escapes a task's promise (an exception thrown in a callback, a rejection nobody awaits, a
 * stream's 'error' with no listener) would end the process, and with it every task Nx gave the
 * batch. Here it fails the task it came from instead: each task's work runs in an async context
 * named after it, which Node keeps for the process's uncaughtException and unhandledRejection
 * listeners. The task stops waiting for work that can no longer finish; the batch goes on.
 */
class EscapeGuard {
  private readonly origin = new AsyncLocalStorage<string>();
  private running: { id: string; fail: (error: unknown) => void } | undefined;
  private readonly listener = (error: unknown) => this.escaped(error);

  constructor() {
    process.on('uncaughtException', this.listener);
    process.on('unhandledRejection', this.listener);
  }

  close(): void {
    process.off('uncaughtException', this.listener);
    process.off('unhandledRejection', this.listener);
  }

  async run(id: string, body: () => Promise<{ success: boolean }>): Promise<{ success: boolean }> {
    let escape: { error: unknown } | undefined;
    let onEscape: () => void = () => undefined;
    const escaped = new Promise<{ success: boolean }>((resolve) => (onEscape = () => resolve({ success: false })));
    this.running = { id, fail: (error) => {
      escape ??= { error };
      onEscape();
    } };
    try {
      const work = this.origin.run(id, body).catch((error: unknown) => {
        escape ??= { error };
        return { success: false };
      });
      const result = await Promise.race([work, escaped]);
      // Node reports a rejection nobody handled after the tick it happened in: one turn of the
      // event loop lets one from the task's last steps still count against it.
      if (!escape) await new Promise((resolve) => setImmediate(resolve));
      if (!escape) return result;
      logger.error(`${id} failed: ${formatError(escape.error)}`);
      return { success: false };
    } finally {
      this.running = undefined;
    }
  }

  private escaped(error: unknown): void {
    const origin = this.origin.getStore();
    if (this.running && (origin === undefined || origin === this.running.id)) return this.running.fail(error);
    // From a task that has already reported its result: it can only be told.
    logger.error(`${origin ?? 'the batch'} failed after it ended: ${formatError(error)}`);
  }
}

/** The batch's tasks, each after the tasks of the batch it depends on (ties in the graph's order). */
export function dependencyOrder(taskGraph: TaskGraph): Task[] {
  const ordered: Task[] = [];
  const placed = new Set<string>();
  const pending = Object.keys(taskGraph.tasks);
  while (pending.length) {
    const next = pending.findIndex((id) => (taskGraph.dependencies[id] ?? []).every((dep) => placed.has(dep) || !taskGraph.tasks[dep]));
    if (next === -1) throw new AurenError('internal', `the tasks ${pending.join(', ')} depend on each other in a cycle`);
    const [id] = pending.splice(next, 1);
    placed.add(id);
    ordered.push(taskGraph.tasks[id]);
  }
  return ordered;
}

/** The context a process of the task's own would get. */
function taskContext(context: ExecutorContext, task: Task): ExecutorContext {
  const project = task.target.project;
  return {
    ...context,
    projectName: project,
    targetName: task.target.target,
    configurationName: task.target.configuration,
    target: context.projectsConfigurations.projects[project]?.targets?.[task.target.target],
  };
}

/** Runs body while everything written to stdout and stderr is also collected. */
async function capturingOutput<T>(body: () => Promise<T>): Promise<[T, string]> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write);
  streams.forEach((stream, i) => {
    stream.write = function tee(this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
      return (originals[i] as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof stream.write;
  });
  try {
    return [await body(), chunks.join('')];
  } finally {
    streams.forEach((stream, i) => (stream.write = originals[i]));
  }
}
