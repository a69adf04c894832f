import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { logger, type ExecutorContext } from '@nx/devkit';
import type { AurenConfig } from '../../lib/config/options';
import { buildPullSecret, renderPullSecret, type ManifestFormat } from '../../lib/deploy/kubernetes-secret';
import { inputError } from '../../lib/errors/errors';
import { credentialsFor } from '../../lib/pipeline/connect';
import { loadConfig, runExecutor } from '../shared/context';
import type { KubernetesManifestExecutorSchema } from './schema';

export interface NormalizedKubernetesManifestOptions {
  registry: string;
  namespace: string;
  name: string;
  format: ManifestFormat;
  /** Absolute path, or undefined for stdout. */
  output: string | undefined;
}

/** `registry-<host>` with every character a Secret name cannot hold turned into `-`. */
export function defaultSecretName(registry: string): string {
  return `registry-${registry.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')}`;
}

export function normalizeOptions(options: KubernetesManifestExecutorSchema, config: AurenConfig, workspaceRoot: string): NormalizedKubernetesManifestOptions {
  const format = options.format ?? 'yaml';
  if (format !== 'yaml' && format !== 'json') throw inputError(`unknown --format "${String(format)}"`, 'Use yaml or json.');
  return {
    registry: config.registry,
    namespace: options.namespace?.trim() || 'default',
    name: options.name?.trim() || defaultSecretName(config.registry),
    format,
    output: options.output ? resolve(workspaceRoot, options.output) : undefined,
  };
}

export interface KubernetesManifestIo {
  env: NodeJS.ProcessEnv;
  /** Where the manifest goes without --output; nothing else is written there. */
  write: (text: string) => void;
}

export default async function kubernetesManifestExecutor(
  options: KubernetesManifestExecutorSchema,
  context: ExecutorContext,
  io: KubernetesManifestIo = { env: process.env, write: (text) => process.stdout.write(text) },
) {
  return runExecutor(async () => {
    const config = loadConfig(context, io.env);
    const normalized = normalizeOptions(options, config, context.root);
    const credentials = await credentialsFor(normalized.registry, config, io.env);
    const secret = buildPullSecret({ registry: normalized.registry, namespace: normalized.namespace, name: normalized.name, credentials });
    const text = renderPullSecret(secret, normalized.format);
    if (normalized.output) {
      mkdirSync(dirname(normalized.output), { recursive: true });
      writeFileSync(normalized.output, text, { mode: 0o600 });
      // An existing file keeps its mode on write: make sure the secret is not left world-readable.
      chmodSync(normalized.output, 0o600);
      logger.info(
        `kubernetes-manifest: Secret ${normalized.namespace}/${normalized.name} for ${normalized.registry} (credentials from ${credentials?.source}) written to ${normalized.output}`,
      );
    } else {
      io.write(text);
    }
    return true;
  });
}
