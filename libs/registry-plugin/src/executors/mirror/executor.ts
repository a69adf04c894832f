import { isAbsolute, join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { validateRegistryHost, type AurenConfig } from '../../lib/config/options';
import { splitList } from '../../lib/config/lists';
import { composeThirdPartyImages, MIRROR_RECORD, mirrorFailure, mirrorImages } from '../../lib/promote';
import { isDryRun } from '../../lib/config/precedence';
import { loadConfig, runExecutor } from '../shared/context';
import type { MirrorExecutorSchema } from './schema';

export interface NormalizedMirrorOptions {
  images: string[];
  sourceRegistry: string | undefined;
  config: AurenConfig;
  dryRun: boolean;
  recordPath: string;
}

export function normalizeOptions(
  options: MirrorExecutorSchema,
  context: Pick<ExecutorContext, 'root' | 'nxJsonConfiguration'>,
  env: NodeJS.ProcessEnv = process.env,
): NormalizedMirrorOptions {
  const config = loadConfig(context as ExecutorContext, env);
  let images = splitList(options.images);
  if (!images.length) {
    const file = options.composeFile?.trim() || 'docker-compose.yml';
    images = composeThirdPartyImages(isAbsolute(file) ? file : join(context.root, file), env);
  }
  const sourceRegistry = options.sourceRegistry?.trim() ? validateRegistryHost(options.sourceRegistry.trim(), 'sourceRegistry') : undefined;
  return { images, sourceRegistry, config, dryRun: isDryRun(options, env), recordPath: join(context.root, MIRROR_RECORD) };
}

/** `nx run registry:mirror [--images=redis:7-alpine] [--sourceRegistry=host:port] [--dryRun]` */
export default async function mirrorExecutor(options: MirrorExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const env = process.env;
    const normalized = normalizeOptions(options, context, env);
    if (!normalized.images.length) {
      logger.info('mirror: no third-party images to mirror');
      return true;
    }
    const outcomes = await mirrorImages({ ...normalized, env, log: (line) => logger.info(line) });
    const failure = mirrorFailure(outcomes);
    if (failure) throw failure;
    return true;
  });
}
