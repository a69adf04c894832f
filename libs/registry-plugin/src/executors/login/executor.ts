import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import type { AurenConfig } from '../../lib/config/options';
import { isInsecureRegistry, validateRegistryHost } from '../../lib/config/options';
import { readSecret, registryLogin, type LoginResult } from '../../lib/providers/login';
import { loadConfig, runExecutor } from '../shared/context';
import type { LoginExecutorSchema } from './schema';

export interface NormalizedLoginOptions {
  registry: string;
  username: string | undefined;
  passwordStdin: boolean;
  helper: string | undefined;
  dockerConfigDir: string | undefined;
  insecure: boolean;
  caFile: string | undefined;
}

export function normalizeOptions(options: LoginExecutorSchema, config: AurenConfig, workspaceRoot: string): NormalizedLoginOptions {
  const registry = validateRegistryHost(options.registry?.trim() || config.registry, options.registry ? 'the registry option' : 'nx.json registry');
  return {
    registry,
    username: options.username?.trim() || undefined,
    passwordStdin: options.passwordStdin ?? false,
    helper: options.helper?.trim() || undefined,
    dockerConfigDir: options.dockerConfig ? resolve(workspaceRoot, options.dockerConfig) : undefined,
    insecure: isInsecureRegistry(registry, config.insecureRegistries),
    caFile: config.caFile ? resolve(workspaceRoot, config.caFile) : undefined,
  };
}

export function describeLogin(result: LoginResult): string[] {
  const where = result.storage === 'helper' ? `docker-credential-${result.helper}` : result.configPath;
  return [
    `login: logged in to ${result.registry} as ${result.username} (credentials from ${result.credentialsSource})`,
    `login: stored in ${where}`,
    ...(result.verification === 'anonymous-access'
      ? [`login: ${result.registry} answered GET /v2/ without asking for credentials, so they could not be checked`]
      : []),
  ];
}

export interface LoginIo {
  stdin: Readable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export default async function loginExecutor(
  options: LoginExecutorSchema,
  context: ExecutorContext,
  io: LoginIo = { stdin: process.stdin, env: process.env },
) {
  return runExecutor(async () => {
    const config = loadConfig(context, io.env);
    const normalized = normalizeOptions(options, config, context.root);
    const password = normalized.passwordStdin ? await readSecret(io.stdin) : undefined;
    const result = await registryLogin({
      registry: normalized.registry,
      username: normalized.username,
      password,
      helper: normalized.helper,
      dockerConfigDir: normalized.dockerConfigDir,
      insecure: normalized.insecure || undefined,
      caFile: normalized.caFile,
      env: io.env,
    });
    const [first, ...rest] = describeLogin(result);
    logger.info(first);
    for (const line of rest) (line.includes('could not be checked') ? logger.warn : logger.info)(line);
    return true;
  });
}
