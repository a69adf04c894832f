import { AsyncLocalStorage } from 'node:async_hooks';
import { AurenError, formatError } from '../errors/errors';

/**
 * Several tasks in one process, one at a time in dependency order, each isolated from the others:
 * a task whose dependency failed is skipped, what escapes a task's promise fails that task only,
 * and each task's output streams as it is written and is also returned with its result. The
 * executors' Nx batch mode runs on this; nothing here depends on Nx.
 */

/** The tasks and what each depends on, by id (Nx's TaskGraph fits). */
export interface TaskBatch<T extends { id: string }> {
  tasks: Record<string, T>;
  dependencies: Record<string, string[]>;
}

/** What the batch yields per task (Nx's BatchExecutorTaskResult fits). */
export interface BatchTaskResult {
  task: string;
  result: { success: boolean; status?: 'skipped'; terminalOutput: string; startTime?: number; endTime?: number };
}

export interface BatchIo {
  /** Where a task's failure that escaped its promise is reported. */
  error: (message: string) => void;
}

export async function* runTaskBatch<T extends { id: string }>(
  batch: TaskBatch<T>,
  run: (task: T) => Promise<{ success: boolean }>,
  io: BatchIo,
): AsyncGenerator<BatchTaskResult> {
  const succeeded = new Map<string, boolean>();
  const escapes = new EscapeGuard(io);
  try {
    for (const task of dependencyOrder(batch)) {
      const blocked = batch.dependencies[task.id]?.find((dep) => succeeded.get(dep) === false);
      if (blocked) {
        succeeded.set(task.id, false);
        yield { task: task.id, result: { success: false, status: 'skipped', terminalOutput: `${task.id}: skipped, ${blocked} failed\n` } };
        continue;
      }
      const startTime = Date.now();
      const exitCode = process.exitCode;
      const [{ success }, terminalOutput] = await capturingOutput(() => escapes.run(task.id, () => run(task)));
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
 * stream's 'error' with no listener) would end the process, and with it every task of the
 * batch. Here it fails the task it came from instead: each task's work runs in an async context
 * named after it, which Node keeps for the process's uncaughtException and unhandledRejection
 * listeners. The task stops waiting for work that can no longer finish; the batch goes on.
 */
class EscapeGuard {
  private readonly origin = new AsyncLocalStorage<string>();
  private running: { id: string; fail: (error: unknown) => void } | undefined;
  private readonly listener = (error: unknown) => this.escaped(error);

  constructor(private readonly io: BatchIo) {
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
      this.io.error(`${id} failed: ${formatError(escape.error)}`);
      return { success: false };
    } finally {
      this.running = undefined;
    }
  }

  private escaped(error: unknown): void {
    const origin = this.origin.getStore();
    if (this.running && (origin === undefined || origin === this.running.id)) return this.running.fail(error);
    // From a task that has already reported its result: it can only be told.
    this.io.error(`${origin ?? 'the batch'} failed after it ended: ${formatError(error)}`);
  }
}

/** The batch's tasks, each after the tasks of the batch it depends on (ties in the batch's order). */
export function dependencyOrder<T extends { id: string }>(batch: TaskBatch<T>): T[] {
  const ordered: T[] = [];
  const placed = new Set<string>();
  const pending = Object.keys(batch.tasks);
  while (pending.length) {
    const next = pending.findIndex((id) => (batch.dependencies[id] ?? []).every((dep) => placed.has(dep) || !batch.tasks[dep]));
    if (next === -1) throw new AurenError('internal', `the tasks ${pending.join(', ')} depend on each other in a cycle`);
    const [id] = pending.splice(next, 1);
    placed.add(id);
    ordered.push(batch.tasks[id]);
  }
  return ordered;
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
