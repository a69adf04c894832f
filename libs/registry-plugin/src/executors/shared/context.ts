import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { logger } from './logger';
import { normalizeOptions, pluginOptions, type AurenConfig } from '../../lib/config/options';
import { exitCodeFor, formatError } from '../../lib/errors/errors';
import { trace } from '../../lib/exec/exec';
import { imageDir } from '../../lib/reports/records';
import { inputRootsOf } from '../../lib/pipeline/project-roots';

/** The plugin's options from nx.json, normalised, with environment overrides applied. */
export function loadConfig(context: ExecutorContext, env: NodeJS.ProcessEnv = process.env): AurenConfig {
  return normalizeOptions(pluginOptions(context.nxJsonConfiguration), env);
}

export interface ProjectInfo {
  name: string;
  root: string;
  /** Absolute folder of the project's image artifacts. */
  artifactDir: string;
  /** The project's root and the roots of everything it depends on, transitively. */
  inputRoots: string[];
}

export function projectInfo(context: ExecutorContext): ProjectInfo {
  const name = context.projectName;
  if (!name) throw new Error('this executor must run for a project');
  const root = context.projectsConfigurations.projects[name].root;
  const { nodes = {}, dependencies = {} } = context.projectGraph ?? {};
  return { name, root, artifactDir: join(context.root, imageDir(name)), inputRoots: inputRootsOf({ nodes, dependencies }, name, root) };
}

let startupTraced = false;

/** The single error boundary of every executor: a clear message, never a stack for known failures. */
export async function runExecutor(body: () => Promise<boolean>): Promise<{ success: boolean }> {
  const started = performance.now();
  // Once per process: a batch runs several executors in one.
  if (!startupTraced) trace(`process start-up until the executor runs (${process.argv[1]})`, 0);
  startupTraced = true;
  try {
    return { success: await body() };
  } catch (error) {
    logger.error(formatError(error));
    process.exitCode = process.exitCode || exitCodeFor(error);
    return { success: false };
  } finally {
    trace('executor', started);
  }
}
