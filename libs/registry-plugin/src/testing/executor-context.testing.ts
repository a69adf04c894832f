import type { ExecutorContext } from '@nx/devkit';

export interface TestContextOptions {
  root: string;
  /** The project the executor runs for. */
  projectName?: string;
  /** Project name → root folder; the running project is added when missing. */
  projects?: Record<string, string>;
  /** The registry plugin's options in nx.json; none means an nx.json without the plugin. */
  pluginOptions?: Record<string, unknown>;
}

/**
 * The slice of Nx's `ExecutorContext` the executors read (root, project roots, nx.json plugins),
 * for executor specs that call an executor directly instead of through `nx run`.
 */
export function testExecutorContext(options: TestContextOptions): ExecutorContext {
  const projectName = options.projectName ?? 'registry';
  const roots = { [projectName]: 'tools/registry', ...options.projects };
  const projects = Object.fromEntries(Object.entries(roots).map(([name, root]) => [name, { root }]));
  return {
    root: options.root,
    cwd: options.root,
    isVerbose: false,
    projectName,
    projectsConfigurations: { version: 2, projects },
    nxJsonConfiguration: options.pluginOptions ? { plugins: [{ plugin: '@auren/registry-plugin', options: options.pluginOptions }] } : {},
  } as unknown as ExecutorContext;
}
