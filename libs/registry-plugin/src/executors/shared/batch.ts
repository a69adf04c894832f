import type { ExecutorContext, Task, TaskGraph } from '@nx/devkit';
import { availableParallelism } from 'node:os';
import { environmentValue } from '../../lib/config/precedence';
import { inputError } from '../../lib/errors/errors';
import { runTaskBatch, type BatchTaskResult } from '../../lib/exec/batch';
import { logger } from './logger';

/**
 * Nx batch mode for an executor (`batchImplementation` and `preferBatch` in executors.json): Nx
 * gives one process all the tasks of that executor it can run together, instead of starting a
 * process per task (~0.8 s each before the executor runs). The tasks run in dependency order,
 * as many at once as Nx would run processes (batchConcurrency), each isolated from the others
 * (lib/exec/batch.ts); each task's output is also returned as the task's terminal output, which
 * Nx keeps with the cached result.
 */
export function runBatch<T>(
  taskGraph: TaskGraph,
  inputs: Record<string, T>,
  context: ExecutorContext,
  executor: (options: T, context: ExecutorContext) => Promise<{ success: boolean }>,
): AsyncGenerator<BatchTaskResult> {
  return runTaskBatch(taskGraph, (task) => executor(inputs[task.id], taskContext(context, task)), { error: logger.error }, {
    concurrency: batchConcurrency(process.env, context.nxJsonConfiguration?.parallel),
  });
}

/**
 * How many tasks of a batch run at once: AUREN_BATCH_CONCURRENCY, else nx.json's `parallel`,
 * else Nx's default of 3, and never more than the machine's cores: one project's fetch or build
 * then overlaps another's scan. Trivy still runs one scan at a time per cache
 * (scanners/trivy-db.ts) and the builder one build at a time (pipeline/build.ts). 1 runs them
 * one after another.
 */
export function batchConcurrency(env: NodeJS.ProcessEnv, nxParallel: number | undefined, cores = availableParallelism()): number {
  const set = environmentValue(env, 'AUREN_BATCH_CONCURRENCY');
  if (set) {
    if (!/^[1-9]\d{0,2}$/.test(set)) throw inputError(`AUREN_BATCH_CONCURRENCY=${set} is not a whole number from 1 to 999`, 'Set it to how many tasks of a batch may run at once (1: one after another), or unset it.');
    return Number(set);
  }
  const parallel = typeof nxParallel === 'number' && nxParallel >= 1 ? Math.floor(nxParallel) : 3;
  return Math.max(1, Math.min(parallel, cores));
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
