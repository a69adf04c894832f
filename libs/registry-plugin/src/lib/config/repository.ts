/**
 * The repository of a project. docker-push writes it, docker-build fetches a release and pins
 * dependants' base images from it, scan names it in its report, promote starts from it: each asks
 * here, so a project whose docker-push sets `repository` is found under that name by all of them.
 */

/** The target whose `repository` option names a project's repository. */
export const PUSH_TARGET = 'docker-push';

/** A project's configuration as far as this needs it (Nx's ProjectConfiguration fits). */
export interface ProjectTargets {
  targets?: Record<string, { options?: unknown }>;
}

/** docker-push's options of a project, as its project.json or the inferred target sets them. */
export function pushTargetOptions(project: ProjectTargets | undefined): { repository?: string } | undefined {
  return project?.targets?.[PUSH_TARGET]?.options as { repository?: string } | undefined;
}

/** The repository below the namespace: docker-push's `repository` option, else the project's name. */
export function projectRepository(name: string, pushOptions: { repository?: string } | undefined): string {
  return pushOptions?.repository ?? name;
}

/** The repository of a project of the workspace (Nx's `projectsConfigurations.projects` fits). */
export function repositoryOfProject(projects: Record<string, ProjectTargets>, name: string): string {
  return projectRepository(name, pushTargetOptions(projects[name]));
}

/** `<namespace>/<repository>`, or the repository alone when there is no namespace. */
export function repositoryPath(config: { namespace: string }, repository: string): string {
  return config.namespace ? `${config.namespace}/${repository}` : repository;
}

/** `<registry>/<namespace>/<repository>`, without tag or digest. */
export function imageName(config: { registry: string; namespace: string }, repository: string): string {
  return `${config.registry}/${repositoryPath(config, repository)}`;
}
