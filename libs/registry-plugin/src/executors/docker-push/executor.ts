import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import { logger } from '../shared/logger';
import { normalizePushImageOptions, pushImage } from '../../lib/pipeline/push-image';
import { runBatch } from '../shared/batch';
import { isDryRun } from '../../lib/config/precedence';
import { loadConfig, projectInfo, runExecutor } from '../shared/context';
import type { DockerPushExecutorSchema } from './schema';

/** Push a project's scanned image with its tags (the docker-push target). */
export default async function dockerPushExecutor(options: DockerPushExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const env = process.env;
    const project = projectInfo(context);
    const result = await pushImage(
      { workspaceRoot: context.root, project, config: loadConfig(context, env), options: normalizePushImageOptions(options, project, isDryRun(options, env)) },
      { env, log: logger.info, warn: logger.warn, verbose: logger.verbose },
    );
    if (!('record' in result)) logger.info(`${project.name}: ${result.reason}`);
    else if (result.gitTag) logger.info(`${project.name}: git tag ${result.gitTag.name} ${result.gitTag.result}`);
    return true;
  });
}

/** Nx's batch implementation: every push of the batch in this one process (shared/batch.ts). */
export function batchDockerPushExecutor(taskGraph: TaskGraph, inputs: Record<string, DockerPushExecutorSchema>, _overrides: DockerPushExecutorSchema, context: ExecutorContext) {
  return runBatch(taskGraph, inputs, context, dockerPushExecutor);
}
