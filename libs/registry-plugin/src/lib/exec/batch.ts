import { AsyncLocalStorage } from 'node:async_hooks';
import { AurenError, formatError } from '../errors/errors';

/**
 * Several tasks in one process, in dependency order, each isolated from the others: a task whose
 * dependency failed is skipped, what escapes a task's promise fails that task only, and each
 * task's output streams as it is written and is also returned with its result. Up to
 * `concurrency` tasks run at once (one unless asked): a fetch or a build of one project overlaps
 * the scan of another. The executors' Nx batch mode runs on this; nothing here depends on Nx.
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

export interface BatchOptions {
  /** How many tasks may run at once (default 1). */
  concurrency?: number;
}

/**
 * Results are yielded as tasks end, which with `concurrency` above 1 need not be the dependency
 * order; a task starts only once every task of the batch it depends on has succeeded.
 */
export async function* runTaskBatch<T extends { id: string }>(
  batch: TaskBatch<T>,
  run: (task: T) => Promise<{ success: boolean }>,
  io: BatchIo,
  options: BatchOptions = {},
): AsyncGenerator<BatchTaskResult> {
  const limit = Math.max(1, Math.floor(options.concurrency ?? 1));
  const pending = dependencyOrder(batch);
  const succeeded = new Map<string, boolean>();
  const inFlight = new Map<string, Promise<BatchTaskResult>>();
  const origin = new AsyncLocalStorage<string>();
  const output = new OutputCapture(origin);
  const escapes = new EscapeGuard(io, origin);
  const exitCode = process.exitCode;
  const inBatch = new Map(pending.map((task) => [task.id, (batch.dependencies[task.id] ?? []).filter((dep) => batch.tasks[dep])]));
  try {
    while (pending.length || inFlight.size) {
      const ready: BatchTaskResult[] = [];
      for (let i = 0; i < pending.length; ) {
        const task = pending[i];
        const deps = inBatch.get(task.id) ?? [];
        const blocked = deps.find((dep) => succeeded.get(dep) === false);
        if (blocked) {
          pending.splice(i, 1);
          succeeded.set(task.id, false);
          ready.push({ task: task.id, result: { success: false, status: 'skipped', terminalOutput: `${task.id}: skipped, ${blocked} failed\n` } });
        } else if (inFlight.size < limit && deps.every((dep) => succeeded.get(dep) === true)) {
          pending.splice(i, 1);
          inFlight.set(task.id, origin.run(task.id, () => runOne(task)));
        } else {
          i++;
        }
      }
      if (ready.length) {
        yield* ready;
        continue;
      }
      if (!inFlight.size) break;
      const done = await Promise.race(inFlight.values());
      inFlight.delete(done.task);
      succeeded.set(done.task, done.result.success);
      yield done;
    }
  } finally {
    escapes.close();
    output.close();
  }

  async function runOne(task: T): Promise<BatchTaskResult> {
    const startTime = Date.now();
    output.open(task.id);
    const { success } = await escapes.run(task.id, () => run(task));
    // A failed task sets the exit code for a process of its own; the batch goes on with the others.
    process.exitCode = exitCode;
    return { task: task.id, result: { success, terminalOutput: output.take(task.id), startTime, endTime: Date.now() } };
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
  private readonly running = new Map<string, (error: unknown) => void>();
  private readonly listener = (error: unknown) => this.escaped(error);

  constructor(private readonly io: BatchIo, private readonly origin: AsyncLocalStorage<string>) {
    process.on('uncaughtException', this.listener);
    process.on('unhandledRejection', this.listener);
  }

  close(): void {
    process.off('uncaughtException', this.listener);
    process.off('unhandledRejection', this.listener);
  }

  /** Runs in the task's async context (runTaskBatch starts it there), so its report is its own output. */
  async run(id: string, body: () => Promise<{ success: boolean }>): Promise<{ success: boolean }> {
    let escape: { error: unknown } | undefined;
    let onEscape: () => void = () => undefined;
    const escaped = new Promise<{ success: boolean }>((resolve) => (onEscape = () => resolve({ success: false })));
    this.running.set(id, (error) => {
      escape ??= { error };
      onEscape();
    });
    try {
      // A task that throws before its first await fails like one that rejects.
      const work = Promise.resolve().then(body).catch((error: unknown) => {
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
      this.running.delete(id);
    }
  }

  private escaped(error: unknown): void {
    const origin = this.origin.getStore();
    const fail = origin === undefined ? undefined : this.running.get(origin);
    if (fail) return fail(error);
    // From no task's context: one running task is the only one it can be from; with several, any
    // of them could be, and each is failed rather than one passing on a fault of its own.
    if (origin === undefined && this.running.size) return this.running.forEach((failTask) => failTask(error));
    // From a task that has already reported its result: it can only be told.
    this.io.error(`${origin ?? 'the batch'} failed after it ended: ${formatError(error)}`);
  }
}

/**
 * Everything written to stdout and stderr while tasks run still reaches the terminal, and is
 * also kept for the task whose async context wrote it. A write from no task's context (a
 * library's own timer, say) is kept for the one running task, or for none when several run.
 */
class OutputCapture {
  private readonly chunks = new Map<string, string[]>();
  private readonly streams = [process.stdout, process.stderr];
  private readonly originals = this.streams.map((stream) => stream.write);

  constructor(private readonly origin: AsyncLocalStorage<string>) {
    const keep = (chunk: unknown) => {
      const id = this.origin.getStore();
      const target = id !== undefined ? this.chunks.get(id) : this.chunks.size === 1 ? this.chunks.values().next().value : undefined;
      target?.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
    };
    const originals = this.originals;
    this.streams.forEach((stream, i) => {
      stream.write = function tee(this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
        keep(chunk);
        return (originals[i] as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      } as typeof stream.write;
    });
  }

  open(id: string): void {
    this.chunks.set(id, []);
  }

  /** The task's output so far; it is no longer kept. */
  take(id: string): string {
    const text = (this.chunks.get(id) ?? []).join('');
    this.chunks.delete(id);
    return text;
  }

  close(): void {
    this.streams.forEach((stream, i) => (stream.write = this.originals[i]));
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
