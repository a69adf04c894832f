import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { repositoryOfProject, PUSH_TARGET } from '../../lib/config/repository';
import { exec } from '../../lib/exec/exec';
import { buildImage, buildSummary, normalizeBuildImageOptions } from '../../lib/pipeline/build-image';
import { loadConfig, projectInfo } from '../shared/context';
import type { BuildOptions } from './schema';

/** The projects `project` depends on that push an image (Nx ran or restored their docker-build first). */
function pushingDependencies(context: ExecutorContext, project: string): Array<{ project: string; repository: string }> {
  const projects = context.projectsConfigurations.projects;
  return (context.projectGraph?.dependencies[project] ?? [])
    .filter((dep) => projects[dep.target]?.targets?.[PUSH_TARGET])
    .map((dep) => ({ project: dep.target, repository: repositoryOfProject(projects, dep.target) }));
}

/** The docker-build target: lib/pipeline/build-image.ts fetches the released version or builds it. */
export async function build(options: BuildOptions, context: ExecutorContext): Promise<boolean> {
  const env = process.env;
  const info = projectInfo(context);
  const project = { ...info, repository: repositoryOfProject(context.projectsConfigurations.projects, info.name) };
  const normalized = normalizeBuildImageOptions(options, {
    workspaceRoot: context.root,
    project,
    config: loadConfig(context, env),
    dependencies: pushingDependencies(context, project.name),
    env,
  });
  const result = await buildImage(normalized, { env, log: (line) => logger.info(line), exec });
  logger.info(buildSummary(project.name, result));
  return true;
}
