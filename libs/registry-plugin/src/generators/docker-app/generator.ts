import {
  addProjectConfiguration,
  generateFiles,
  getProjects,
  joinPathFragments,
  offsetFromRoot,
  type Tree,
} from '@nx/devkit';
import { join } from 'node:path';
import { inputError } from '../../lib/errors/errors';
import { splitList } from '../../lib/config/lists';
import { initGenerator, isPluginRegistered } from '../init/generator';
import { withHints } from '../shared/errors';
import { findBaseImageProject } from '../shared/workspace';
import type { DockerAppGeneratorSchema } from './schema';

/** OCI distribution spec `<name>` path component: the app name is one repository component. */
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export interface NormalizedDockerAppOptions {
  name: string;
  projectRoot: string;
  port: number;
  tags: string[];
}

export function validateAppName(name: string): string {
  if (!COMPONENT_RE.test(name) || name.length > 128) {
    throw inputError(
      `invalid application name "${name}"`,
      'The name is also the image repository name: lower-case letters and digits, separated by ".", "_", "__" or "-", starting and ending with a letter or digit, e.g. auren-reports.',
    );
  }
  return name;
}

export function normalizeOptions(tree: Tree, schema: DockerAppGeneratorSchema): NormalizedDockerAppOptions {
  const name = validateAppName((schema.name ?? '').trim());
  const projectRoot = joinPathFragments(schema.directory ?? 'apps', name);
  const port = schema.port ?? 8080;
  if (!Number.isInteger(port) || port < 1024 || port > 65535) {
    throw inputError(`invalid port ${port}`, 'Use a port from 1024 to 65535: the service runs as a non-root user.');
  }
  if (getProjects(tree).has(name)) {
    throw inputError(`a project named "${name}" already exists`, 'Choose another name.');
  }
  if (tree.exists(projectRoot)) {
    throw inputError(`${projectRoot} already exists`, 'Choose another name, or remove the folder first.');
  }
  const extra = splitList(schema.tags);
  return { name, projectRoot, port, tags: [...new Set(['type:app', 'runtime:container', ...extra])] };
}

export async function dockerAppGenerator(tree: Tree, schema: DockerAppGeneratorSchema): Promise<void> {
  const options = normalizeOptions(tree, schema);
  // The targets are inferred by the plugin from the Dockerfile: make sure it is registered.
  if (!isPluginRegistered(tree)) await initGenerator(tree, {});
  // The Dockerfile builds FROM the in-house base image when the workspace has one (nx.json maps
  // debian:bookworm-slim to it), so a new base image rebuilds the app. Naming a project that
  // does not exist would break every nx command.
  const base = findBaseImageProject(tree);
  addProjectConfiguration(tree, options.name, {
    root: options.projectRoot,
    sourceRoot: options.projectRoot,
    projectType: 'application',
    ...(base ? { implicitDependencies: [base.name] } : {}),
    tags: options.tags,
    targets: {},
  });
  generateFiles(tree, join(__dirname, 'files'), options.projectRoot, {
    ...options,
    offsetFromRoot: offsetFromRoot(options.projectRoot),
    tmpl: '',
  });
}

/** The entry Nx calls: errors carry their hint in the message. */
export default withHints(dockerAppGenerator);
