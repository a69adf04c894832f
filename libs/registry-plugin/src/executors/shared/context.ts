import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { logger } from './logger';
import { normalizeOptions, PLUGIN_NAME as PLUGIN, type AurenConfig, type RegistryPluginOptions } from '../../lib/config/options';
import { exitCodeFor, formatError } from '../../lib/errors/errors';
import { trace } from '../../lib/exec/exec';
import { imageDir } from '../../lib/reports/records';

/** The plugin's options from nx.json, normalised, with environment overrides applied. */
export function loadConfig(context: ExecutorContext, env: NodeJS.ProcessEnv = process.env): AurenConfig {
  const entry = (context.nxJsonConfiguration?.plugins ?? []).find((plugin) =>
    typeof plugin === 'string' ? plugin === PLUGIN : plugin.plugin === PLUGIN,
  );
  const options = entry && typeof entry !== 'string' ? (entry.options as RegistryPluginOptions) : {};
  return normalizeOptions(options, env);
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
  const graph = context.projectGraph;
  const roots = new Set<string>([root]);
  const queue = [name];
  const seen = new Set(queue);
  while (queue.length) {
    const current = queue.shift() as string;
    for (const dep of graph?.dependencies[current] ?? []) {
      const node = graph?.nodes[dep.target];
      if (!node || seen.has(dep.target)) continue; // npm packages are not in `nodes`
      seen.add(dep.target);
      roots.add(node.data.root);
      queue.push(dep.target);
    }
  }
  return { name, root, artifactDir: join(context.root, imageDir(name)), inputRoots: [...roots].sort() };
}

export function isDryRun(options: { dryRun?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return options.dryRun === true || env.NX_DRY_RUN === 'true' || env.NX_DRY_RUN === '1';
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
