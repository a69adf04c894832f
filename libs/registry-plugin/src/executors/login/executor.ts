import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { login, normalizeLoginOptions, type LoginIo, type LoginResult } from '../../lib/providers/login';
import { loadConfig, runExecutor } from '../shared/context';
import type { LoginExecutorSchema } from './schema';

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

/** Checks registry credentials and stores them as `docker login` does (the login target). */
export default async function loginExecutor(
  options: LoginExecutorSchema,
  context: ExecutorContext,
  io: LoginIo = { stdin: process.stdin, env: process.env },
) {
  return runExecutor(async () => {
    const config = loadConfig(context, io.env);
    const result = await login(normalizeLoginOptions(options, config, { root: context.root, registryFrom: 'the registry option' }), io);
    const [first, ...rest] = describeLogin(result);
    logger.info(first);
    for (const line of rest) (line.includes('could not be checked') ? logger.warn : logger.info)(line);
    return true;
  });
}
