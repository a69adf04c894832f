import type { ExecutorContext, Task, TaskGraph } from '@nx/devkit';
import { runTaskBatch, type BatchTaskResult } from '../../lib/exec/batch';
import { logger } from './logger';

/**
 * Nx batch mode for an executor (`batchImplementation` and `preferBatch` in executors.json): Nx
 * gives one process all the tasks of that executor it can run together, instead of starting a
 * process per task (~0.8 s each before the executor runs). The tasks run one at a time in
 * dependency order (builds share the builder's storage and the machine's cores), each isolated
 * from the others (lib/exec/batch.ts); each task's output is also returned as the task's terminal
 * output, which Nx keeps with the cached result.
 */
export function runBatch<T>(
  taskGraph: TaskGraph,
  inputs: Record<string, T>,
  context: ExecutorContext,
  executor: (options: T, context: ExecutorContext) => Promise<{ success: boolean }>,
): AsyncGenerator<BatchTaskResult> {
  return runTaskBatch(taskGraph, (task) => executor(inputs[task.id], taskContext(context, task)), { error: logger.error });
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
