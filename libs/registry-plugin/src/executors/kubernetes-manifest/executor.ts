import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { normalizeKubernetesManifestOptions, writePullSecret, type PullSecretIo } from '../../lib/deploy/kubernetes-manifest';
import { loadConfig, runExecutor } from '../shared/context';
import type { KubernetesManifestExecutorSchema } from './schema';

/** An image pull Secret for the configured registry (the kubernetes-manifest target). */
export default async function kubernetesManifestExecutor(
  options: KubernetesManifestExecutorSchema,
  context: ExecutorContext,
  io: PullSecretIo = { env: process.env, write: (text) => process.stdout.write(text) },
) {
  return runExecutor(async () => {
    const config = loadConfig(context, io.env);
    const result = await writePullSecret(normalizeKubernetesManifestOptions(options, config, context.root), config, io);
    if (result.file) {
      logger.info(
        `kubernetes-manifest: Secret ${result.namespace}/${result.name} for ${result.registry} (credentials from ${result.credentialsSource}) written to ${result.file} (mode 0600)`,
      );
      logger.info(`kubernetes-manifest: apply it with \`kubectl apply -f ${result.file}\``);
    }
    return true;
  });
}
