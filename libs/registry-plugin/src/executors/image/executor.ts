import type { ExecutorContext, Task, TaskGraph, TaskGraphExecutor } from '@nx/devkit';
import { AurenError } from '../../lib/errors/errors';
import { runExecutor } from '../shared/context';
import { build } from './build';
import { push } from './push';
import { scan } from './scan';
import schema from './schema.json';
import type { ImageExecutorSchema, ImageStep } from './schema';

/**
 * One executor for a project's image: its three inferred targets (plugin/create-nodes.ts) are its
 * three steps. Being one executor is what lets Nx run every image task of an `nx` run in one
 * process (batch mode, `preferBatch` in executors.json): a one-app change starts one Node process
 * for its build, scan and push instead of one per task.
 */
const STEPS: Record<ImageStep, (options: ImageExecutorSchema, context: ExecutorContext) => Promise<boolean>> = { build, scan, push };

/** The target each step is inferred as, to name it in errors. */
export const STEP_TARGETS: Record<ImageStep, string> = { build: 'docker-build', scan: 'scan', push: 'docker-push' };

/** What a batch implementation yields per task (the element type of TaskGraphExecutor's iterator). */
type BatchTaskResult = Awaited<ReturnType<TaskGraphExecutor>> extends infer R ? (R extends AsyncIterableIterator<infer T> ? T : never) : never;

const OPTIONS = schema.properties as Record<string, { 'x-step'?: ImageStep }>;

/** The options' step, after checking that every option given belongs to it. */
export function checkStep(options: Partial<ImageExecutorSchema>): ImageStep {
  const step = options.step;
  if (!step || !(step in STEPS)) {
    throw new AurenError('config', `the image executor needs the option step: "build", "scan" or "push" (got ${JSON.stringify(step)})`, 'Use the docker-build, scan and docker-push targets the plugin infers, or set step in the target\'s options.');
  }
  const foreign = Object.entries(options)
    .filter(([key, value]) => key !== 'step' && value !== undefined && OPTIONS[key]?.['x-step'] !== step)
    .map(([key]) => key);
  if (foreign.length) {
    const owners = foreign.map((key) => {
      const owner = OPTIONS[key]?.['x-step'];
      return owner ? `--${key} is an option of ${STEP_TARGETS[owner]}` : `--${key} is not an option of any image target`;
    });
    throw new AurenError('input', `${owners.join('; ')}, not of ${STEP_TARGETS[step]}`, `Pass it to the target it belongs to, e.g. nx run <project>:${STEP_TARGETS[OPTIONS[foreign[0]]?.['x-step'] ?? step]} --${foreign[0]}=…`);
  }
  return step;
}

export default async function imageExecutor(options: ImageExecutorSchema, context: ExecutorContext) {
  return runExecutor(() => STEPS[checkStep(options)](options, context));
}

/**
 * Nx's batch implementation: the tasks of the batch in dependency order, one at a time (builds
 * share the builder's storage and the machine's cores). A task whose dependency failed is
 * skipped. Each task's output streams as it is written and is also returned as the task's
 * terminal output, which Nx keeps with the cached result.
 */
export async function* batchImageExecutor(
  taskGraph: TaskGraph,
  inputs: Record<string, ImageExecutorSchema>,
  _overrides: ImageExecutorSchema,
  context: ExecutorContext,
): AsyncGenerator<BatchTaskResult> {
  const succeeded = new Map<string, boolean>();
  for (const task of dependencyOrder(taskGraph)) {
    const blocked = taskGraph.dependencies[task.id]?.find((dep) => succeeded.get(dep) === false);
    if (blocked) {
      succeeded.set(task.id, false);
      yield { task: task.id, result: { success: false, status: 'skipped', terminalOutput: `${task.id}: skipped, ${blocked} failed\n` } };
      continue;
    }
    const startTime = Date.now();
    const exitCode = process.exitCode;
    const [{ success }, terminalOutput] = await capturingOutput(() => imageExecutor(inputs[task.id], taskContext(context, task)));
    // A failed task sets the exit code for a process of its own; the batch goes on with the others.
    process.exitCode = exitCode;
    succeeded.set(task.id, success);
    yield { task: task.id, result: { success, terminalOutput, startTime, endTime: Date.now() } };
  }
}

/** The batch's tasks, each after the tasks of the batch it depends on (ties in the graph's order). */
export function dependencyOrder(taskGraph: TaskGraph): Task[] {
  const ordered: Task[] = [];
  const placed = new Set<string>();
  const pending = Object.keys(taskGraph.tasks);
  while (pending.length) {
    const next = pending.findIndex((id) => (taskGraph.dependencies[id] ?? []).every((dep) => placed.has(dep) || !taskGraph.tasks[dep]));
    if (next === -1) throw new AurenError('internal', `the image tasks ${pending.join(', ')} depend on each other in a cycle`);
    const [id] = pending.splice(next, 1);
    placed.add(id);
    ordered.push(taskGraph.tasks[id]);
  }
  return ordered;
}

/** The context a forked task process would get for this task. */
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
