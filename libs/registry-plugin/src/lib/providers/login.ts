import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { AurenConfig } from '../config/options';
import { isInsecureRegistry, validateRegistryHost } from '../config/registry-address';
import { AurenError, inputError } from '../errors/errors';
import { credentialHelpers } from '../exec/credential-helpers';
import { redactText } from '../exec/exec';
import { createAuthenticator } from '../registry/auth/authenticator';
import { fromEnvironment } from '../registry/auth/credentials';
import { isDockerHub, registryHost } from '../registry/auth/docker-config';
import { saveCredentials } from '../registry/auth/store';
import { createRegistryClient } from '../registry/client';
import { DOCKER_HUB } from '../registry/reference';
import { createDispatcher } from '../registry/tls';
import { providerKindFor } from './factory';
import type { ProviderKind } from './types';

/**
 * `docker login` for the pipeline: credentials from stdin or the environment, checked against
 * the registry's `GET /v2/` before anything is stored, then written the way docker does
 * (credential helper, or config.json with mode 0600). The secret is never printed.
 */
export interface LoginCredentials {
  username: string;
  password: string;
  /** For messages: where they came from (`stdin`, `AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD`…). */
  source: string;
}

export interface LoginInput {
  registry: string;
  username?: string;
  /** The secret read from stdin; undefined → take credentials from the environment. */
  password?: string;
  helper?: string;
  dockerConfigDir?: string;
  /** Plain HTTP (default: only for loopback registries). */
  insecure?: boolean;
  caFile?: string;
  env: NodeJS.ProcessEnv;
}

export interface LoginResult {
  registry: string;
  provider: ProviderKind;
  username: string;
  credentialsSource: string;
  /** `anonymous-access`: the registry answered without asking for credentials, so they were stored unchecked. */
  verification: 'credentials-accepted' | 'anonymous-access';
  storage: 'helper' | 'config-file';
  helper?: string;
  configPath: string;
  key: string;
}

const ENV_HINT =
  'Pass --username and the secret on stdin (--password-stdin), or set AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD (or DIGITALOCEAN_ACCESS_TOKEN, GITHUB_TOKEN, DOCKERHUB_USERNAME / DOCKERHUB_TOKEN).';

/** Docker Hub is one registry under several names; the client and docker want `docker.io`. */
function canonicalRegistry(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB : registryHost(registry);
}

/**
 * Who logs in, with what. DigitalOcean accepts its API token as both user name and password
 * (what `doctl registry login` writes); ghcr.io checks only the token.
 */
export function loginCredentials(
  registry: string,
  input: { username?: string; password?: string; env: NodeJS.ProcessEnv },
): LoginCredentials {
  const kind = providerKindFor(registry);
  const env = input.env;
  if (input.password !== undefined) {
    if (!input.password) throw inputError('the password read from stdin is empty', 'Pipe the secret in, e.g. `printenv TOKEN | auren-registry login --password-stdin …`.');
    const username = input.username || defaultUsername(kind, input.password, env);
    if (!username) throw inputError(`a user name is needed to log in to ${registry}`, 'Pass --username.');
    return { username, password: input.password, source: 'stdin' };
  }
  if (kind === 'digitalocean' && !env.AUREN_REGISTRY_USERNAME && env.AUREN_REGISTRY_PASSWORD && !env.DIGITALOCEAN_ACCESS_TOKEN) {
    const token = env.AUREN_REGISTRY_PASSWORD;
    return { username: input.username || token, password: token, source: 'AUREN_REGISTRY_PASSWORD' };
  }
  const found = fromEnvironment(registry, env);
  if (!found) {
    throw inputError(`no credentials for ${registry}${input.username ? ` (user ${input.username}, but no password)` : ''}`, ENV_HINT);
  }
  return { username: input.username || found.username, password: found.password, source: found.source };
}

function defaultUsername(kind: ProviderKind, password: string, env: NodeJS.ProcessEnv): string | undefined {
  switch (kind) {
    case 'digitalocean':
      return password;
    case 'github':
      return env.GITHUB_ACTOR || 'x-access-token';
    case 'dockerhub':
      return env.DOCKERHUB_USERNAME || env.AUREN_REGISTRY_USERNAME || undefined;
    case 'distribution':
      return env.AUREN_REGISTRY_USERNAME || undefined;
    default: {
      const unhandled: never = kind;
      return unhandled;
    }
  }
}

export async function registryLogin(input: LoginInput): Promise<LoginResult> {
  const registry = canonicalRegistry(input.registry);
  const credentials = loginCredentials(registry, { username: input.username, password: input.password, env: input.env });
  const secrets = [credentials.password, Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')];
  // Loopback without `insecure`: the client tries HTTPS first and falls back to plain HTTP.
  const insecure = input.insecure;
  const dispatcher = insecure ? undefined : createDispatcher({ registry, caFile: input.caFile, env: input.env });
  const statuses: number[] = [];
  const client = createRegistryClient({
    registry,
    insecure,
    dispatcher,
    retry: { attempts: 2 },
    authenticator: createAuthenticator({ env: input.env, dispatcher, credentials: { username: credentials.username, password: credentials.password } }),
    onRequest: (_method, _url, status) => statuses.push(status),
  });
  try {
    await client.ping();
  } catch (error) {
    const message = redactText(error instanceof Error ? error.message : String(error), secrets);
    if (error instanceof AurenError && error.kind === 'auth') {
      throw new AurenError(
        'auth',
        `${registry} rejected the credentials of ${credentials.username === credentials.password ? 'the token' : `user "${credentials.username}"`} (from ${credentials.source}); nothing was stored`,
        `Check the user name and the password or token. (${message})`,
      );
    }
    if (error instanceof AurenError) throw new AurenError(error.kind, `${message}; nothing was stored`, error.hint);
    throw new AurenError('registry', `login to ${registry} failed: ${message}; nothing was stored`);
  }
  const saved = await saveCredentials(
    registry,
    { username: credentials.username, password: credentials.password },
    { dockerConfigDir: input.dockerConfigDir, helper: input.helper, env: input.env, helpers: credentialHelpers },
  );
  return {
    registry,
    provider: providerKindFor(registry),
    // A DigitalOcean token doubles as the user name: never echo it.
    username: credentials.username === credentials.password ? '<token>' : credentials.username,
    credentialsSource: credentials.source,
    verification: statuses.includes(401) ? 'credentials-accepted' : 'anonymous-access',
    storage: saved.storage,
    ...(saved.helper ? { helper: saved.helper } : {}),
    configPath: saved.configPath,
    key: saved.key,
  };
}

/** Read a secret from a stream (stdin), dropping one trailing newline as `docker login --password-stdin` does. */
export async function readSecret(stream: Readable & { isTTY?: boolean }): Promise<string> {
  if (stream.isTTY) {
    throw inputError(
      '--password-stdin expects the secret on standard input, not a terminal',
      'Pipe it in, e.g. `printenv AUREN_REGISTRY_PASSWORD | nx run registry:login --passwordStdin --username ci`.',
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * The login options (the login executor's and `auren-registry login`'s), declared here once: the
 * executor's schema.d.ts re-exports this type.
 */
export interface LoginOptions {
  /** Registry host[:port]; default: the configured registry. */
  registry?: string;
  /** User name; default from the environment (DigitalOcean: the token, ghcr.io: GITHUB_ACTOR). */
  username?: string;
  /** Read the password or token from standard input. */
  passwordStdin?: boolean;
  /** Store through docker-credential-<helper>. */
  helper?: string;
  /** Folder holding docker's config.json. */
  dockerConfig?: string;
}

export interface NormalizedLoginOptions {
  registry: string;
  username: string | undefined;
  passwordStdin: boolean;
  helper: string | undefined;
  dockerConfigDir: string | undefined;
  insecure: boolean;
  caFile: string | undefined;
}

/**
 * `root`: the folder relative paths start from (the workspace for the executor, the current
 * folder for the command line). `registryFrom`: where `options.registry` was written, for errors.
 */
export function normalizeLoginOptions(
  options: LoginOptions,
  config: Pick<AurenConfig, 'registry' | 'insecureRegistries' | 'caFile'>,
  where: { root: string; registryFrom: string },
): NormalizedLoginOptions {
  const given = options.registry?.trim();
  const registry = validateRegistryHost(given || config.registry, given ? where.registryFrom : 'nx.json registry');
  return {
    registry,
    username: options.username?.trim() || undefined,
    passwordStdin: options.passwordStdin ?? false,
    helper: options.helper?.trim() || undefined,
    dockerConfigDir: options.dockerConfig ? resolve(where.root, options.dockerConfig) : undefined,
    insecure: isInsecureRegistry(registry, config.insecureRegistries),
    caFile: config.caFile ? resolve(where.root, config.caFile) : undefined,
  };
}

export interface LoginIo {
  /** Read only with passwordStdin. */
  stdin: Readable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

/** The login use case, behind the login executor and `auren-registry login`. */
export async function login(options: NormalizedLoginOptions, io: LoginIo): Promise<LoginResult> {
  const password = options.passwordStdin ? await readSecret(io.stdin) : undefined;
  return registryLogin({
    registry: options.registry,
    username: options.username,
    password,
    helper: options.helper,
    dockerConfigDir: options.dockerConfigDir,
    insecure: options.insecure || undefined,
    caFile: options.caFile,
    env: io.env,
  });
}
