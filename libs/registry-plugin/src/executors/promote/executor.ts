import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import type { AurenConfig } from '../../lib/config/options';
import { splitList } from '../../lib/config/lists';
import { repositoryOfProject } from '../../lib/config/repository';
import { resolvePromote, promoteImage, type PromoteRequest } from '../../lib/promote';
import { readPushRecord } from '../../lib/reports/records';
import { isDryRun } from '../../lib/config/precedence';
import { loadConfig, projectInfo, runExecutor } from '../shared/context';
import type { PromoteExecutorSchema } from './schema';

export interface NormalizedPromoteOptions {
  request: PromoteRequest;
  config: AurenConfig;
  dryRun: boolean;
}

export async function normalizeOptions(
  options: PromoteExecutorSchema,
  context: ExecutorContext,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NormalizedPromoteOptions> {
  const config = loadConfig(context, env);
  const project = projectInfo(context);
  const record = readPushRecord(project.artifactDir, project.name);
  const request = resolvePromote({
    project: project.name,
    repository: repositoryOfProject(context.projectsConfigurations.projects, project.name),
    config,
    record,
    from: options.from?.trim() || undefined,
    to: splitList(options.to),
    toRegistry: options.toRegistry?.trim() || undefined,
  });
  return { request, config, dryRun: isDryRun(options, env) };
}

/** `nx run <app>:promote --to=stable [--from=v1.2.3] [--toRegistry=host/ns] [--dryRun]` */
export default async function promoteExecutor(options: PromoteExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const env = process.env;
    const { request, config, dryRun } = await normalizeOptions(options, context, env);
    await promoteImage({ request, config, env, dryRun, log: (line) => logger.info(line) });
    return true;
  });
}
