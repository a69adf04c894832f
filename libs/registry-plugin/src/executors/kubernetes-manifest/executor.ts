import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import type { AurenConfig } from '../../lib/config/options';
import { buildPullSecret, renderPullSecret, type ManifestFormat } from '../../lib/deploy/kubernetes-secret';
import { inputError } from '../../lib/errors/errors';
import { credentialsFor } from '../../lib/connect/connect';
import { loadConfig, runExecutor } from '../shared/context';
import type { KubernetesManifestExecutorSchema } from './schema';

export interface NormalizedKubernetesManifestOptions {
  registry: string;
  namespace: string;
  name: string;
  format: ManifestFormat;
  /** Absolute path, or undefined for stdout. */
  output: string | undefined;
  /** Relative path for messages. */
  outputLabel: string | undefined;
}

/** `registry-<host>` with every character a Secret name cannot hold turned into `-`. */
export function defaultSecretName(registry: string): string {
  return `registry-${registry.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')}`;
}

export function normalizeOptions(options: KubernetesManifestExecutorSchema, config: AurenConfig, workspaceRoot: string): NormalizedKubernetesManifestOptions {
  const format = options.format ?? 'yaml';
  if (format !== 'yaml' && format !== 'json') throw inputError(`unknown --format "${String(format)}"`, 'Use yaml or json.');
  const namespace = options.namespace?.trim() || 'default';
  const name = options.name?.trim() || defaultSecretName(config.registry);
  if (options.stdout && options.output) throw inputError('--stdout and --output are both set', 'Choose one: a file (default) or stdout.');
  // Nx writes every task's terminal output to <cache>/terminalOutputs/<hash> (0644), cached or
  // not: a Secret printed through `nx run` would be stored there. A file is the default.
  const outputLabel = options.stdout ? undefined : options.output ?? `dist/k8s/${namespace}-${name}.secret.${format === 'json' ? 'json' : 'yaml'}`;
  return { registry: config.registry, namespace, name, format, output: outputLabel ? resolve(workspaceRoot, outputLabel) : undefined, outputLabel };
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
        `kubernetes-manifest: Secret ${normalized.namespace}/${normalized.name} for ${normalized.registry} (credentials from ${credentials?.source}) written to ${normalized.outputLabel} (mode 0600)`,
      );
      logger.info(`kubernetes-manifest: apply it with \`kubectl apply -f ${normalized.outputLabel}\``);
    } else {
      io.write(text);
    }
    return true;
  });
}
