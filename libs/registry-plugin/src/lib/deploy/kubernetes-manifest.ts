import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { AurenConfig } from '../config/options';
import { credentialsFor } from '../connect/connect';
import { inputError } from '../errors/errors';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import { buildPullSecret, renderPullSecret, type ManifestFormat } from './kubernetes-secret';

/** kubernetes-manifest's options, declared here once: the executor's schema.d.ts re-exports this type. */
export interface KubernetesManifestOptions {
  /** Kubernetes namespace of the Secret. */
  namespace?: string;
  /** Name of the Secret (what pods list under imagePullSecrets). */
  name?: string;
  /** Manifest format: yaml (as doctl prints it) or json. */
  format?: ManifestFormat;
  /** File to write the manifest to (mode 0600). Default: dist/k8s/<namespace>-<name>.secret.yaml. */
  output?: string;
  /** Print the manifest to stdout instead of writing a file (Nx stores task output in its cache). */
  stdout?: boolean;
}

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

export function normalizeKubernetesManifestOptions(
  options: KubernetesManifestOptions,
  config: Pick<AurenConfig, 'registry'>,
  workspaceRoot: string,
): NormalizedKubernetesManifestOptions {
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

export interface PullSecretIo {
  env: NodeJS.ProcessEnv;
  /** Where the manifest goes without an output file; nothing else is written there. */
  write: (text: string) => void;
  /** Default: `credentialsFor` (what the login stored, or the environment's). */
  credentials?: (registry: string) => Promise<ResolvedCredentials | undefined>;
}

export interface PullSecretResult {
  registry: string;
  namespace: string;
  name: string;
  /** Where the credentials came from (never the credentials). */
  credentialsSource: string | undefined;
  /** The file written (mode 0600), relative to the workspace; undefined: written to `io.write`. */
  file: string | undefined;
}

/**
 * The kubernetes-manifest use case: an image pull Secret for the configured registry from the
 * stored credentials, written to a file only its owner can read, or to `io.write`.
 */
export async function writePullSecret(options: NormalizedKubernetesManifestOptions, config: Pick<AurenConfig, 'registry'>, io: PullSecretIo): Promise<PullSecretResult> {
  const credentials = await (io.credentials ?? ((registry) => credentialsFor(registry, config, io.env)))(options.registry);
  const secret = buildPullSecret({ registry: options.registry, namespace: options.namespace, name: options.name, credentials });
  const text = renderPullSecret(secret, options.format);
  if (options.output) {
    mkdirSync(dirname(options.output), { recursive: true });
    writeFileSync(options.output, text, { mode: 0o600 });
    // An existing file keeps its mode on write: make sure the secret is not left world-readable.
    chmodSync(options.output, 0o600);
  } else {
    io.write(text);
  }
  return { registry: options.registry, namespace: options.namespace, name: options.name, credentialsSource: credentials?.source, file: options.outputLabel };
}
