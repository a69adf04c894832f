import { configError } from '../../errors/errors';
import {
  dockerAuthKey,
  dockerConfigPath,
  findAuthEntry,
  helperFor,
  noHelperRunner,
  isDockerHub,
  readDockerConfig,
  registryHost,
  type DockerAuthEntry,
} from './docker-config';
import type { CredentialHelpers, Credentials } from './types';

/** Credentials plus where they came from (for messages: never the secret, only the source). */
export interface ResolvedCredentials extends Credentials {
  /** e.g. `AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD`, `~/.docker/config.json`, `docker-credential-pass`. */
  source: string;
  /**
   * An OAuth2 refresh token (`identitytoken` in config.json, or a helper answering with the
   * `<token>` user name). Bearer token requests then use the OAuth2 POST flow.
   */
  identityToken?: string;
}

export interface ResolveCredentialsOptions {
  env?: NodeJS.ProcessEnv;
  /** Folder with config.json; default $DOCKER_CONFIG, else ~/.docker. */
  dockerConfigDir?: string;
  /** Runs the credential helper config.json names (`credentialHelpers` from exec/credential-helpers). */
  helpers?: CredentialHelpers;
}

const AUREN_USER = 'AUREN_REGISTRY_USERNAME';
const AUREN_PASS = 'AUREN_REGISTRY_PASSWORD';
/** Docker's convention: a helper returns this user name when the secret is an identity token. */
const IDENTITY_TOKEN_USER = '<token>';

/**
 * Credentials for `registry`, first match wins:
 * 1. AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD — for every registry, except when
 *    AUREN_REGISTRY names a different host (so CI credentials are not sent to, say, Docker Hub
 *    while pulling a base image);
 * 2. provider conventions: DIGITALOCEAN_ACCESS_TOKEN (registry.digitalocean.com),
 *    GITHUB_TOKEN + GITHUB_ACTOR (ghcr.io), DOCKERHUB_USERNAME + DOCKERHUB_TOKEN (Docker Hub);
 * 3. docker's config.json: the credential helper for the host (`credHelpers`, else `credsStore`),
 *    then the inline `auths` entry.
 */
export async function resolveCredentials(
  registry: string,
  options: ResolveCredentialsOptions = {},
): Promise<ResolvedCredentials | undefined> {
  const env = options.env ?? process.env;
  return fromEnvironment(registry, env) ?? (await fromDockerConfig(registry, { env, dockerConfigDir: options.dockerConfigDir, helpers: options.helpers }));
}

export function fromEnvironment(registry: string, env: NodeJS.ProcessEnv): ResolvedCredentials | undefined {
  const host = registryHost(registry);
  const user = env[AUREN_USER];
  const pass = env[AUREN_PASS];
  if (user || pass) {
    if (!user || !pass) {
      throw configError(
        `${user ? AUREN_PASS : AUREN_USER} is not set but ${user ? AUREN_USER : AUREN_PASS} is`,
        `Set both ${AUREN_USER} and ${AUREN_PASS}, or neither.`,
      );
    }
    const target = env.AUREN_REGISTRY ? registryHost(env.AUREN_REGISTRY) : undefined;
    if (!target || target === host || (isDockerHub(target) && isDockerHub(host))) {
      return { username: user, password: pass, source: `${AUREN_USER}/${AUREN_PASS}` };
    }
  }
  if (host === 'registry.digitalocean.com' && env.DIGITALOCEAN_ACCESS_TOKEN) {
    // DOCR accepts the API token as both user name and password (what `doctl registry login` writes).
    const token = env.DIGITALOCEAN_ACCESS_TOKEN;
    return { username: token, password: token, source: 'DIGITALOCEAN_ACCESS_TOKEN' };
  }
  if (host === 'ghcr.io' && env.GITHUB_TOKEN) {
    // ghcr.io checks the token, not the user name; GITHUB_ACTOR is set in every Actions job.
    return { username: env.GITHUB_ACTOR || 'x-access-token', password: env.GITHUB_TOKEN, source: 'GITHUB_TOKEN' };
  }
  if (isDockerHub(host) && env.DOCKERHUB_USERNAME && (env.DOCKERHUB_TOKEN || env.DOCKERHUB_PASSWORD)) {
    return {
      username: env.DOCKERHUB_USERNAME,
      password: (env.DOCKERHUB_TOKEN || env.DOCKERHUB_PASSWORD) as string,
      source: env.DOCKERHUB_TOKEN ? 'DOCKERHUB_USERNAME/DOCKERHUB_TOKEN' : 'DOCKERHUB_USERNAME/DOCKERHUB_PASSWORD',
    };
  }
  return undefined;
}

export async function fromDockerConfig(
  registry: string,
  options: { env: NodeJS.ProcessEnv; dockerConfigDir?: string; helpers?: CredentialHelpers },
): Promise<ResolvedCredentials | undefined> {
  const path = dockerConfigPath(options);
  const config = await readDockerConfig(path);
  const helper = helperFor(config, registry);
  if (helper) {
    if (!options.helpers) throw noHelperRunner(helper);
    const found = await options.helpers.get(helper, dockerAuthKey(registry), options.env);
    if (found) {
      const source = `docker-credential-${helper}`;
      return found.username === IDENTITY_TOKEN_USER
        ? { username: '', password: found.secret, identityToken: found.secret, source }
        : { username: found.username, password: found.secret, source };
    }
    // Fall through to the inline entry: `docker login` with a store leaves an empty `{}` there,
    // but CI often writes `auths` by hand while a developer's credsStore is set globally.
  }
  const match = findAuthEntry(config.auths, registry);
  return match ? fromAuthEntry(match.entry, path) : undefined;
}

function fromAuthEntry(entry: DockerAuthEntry, path: string): ResolvedCredentials | undefined {
  let username = entry.username ?? '';
  let password = entry.password ?? '';
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) {
      throw configError(`the "auth" value for a registry in ${path} is not base64("user:password")`, 'Run `nx run registry:login` again.');
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (entry.identitytoken) {
    return { username, password: entry.identitytoken, identityToken: entry.identitytoken, source: path };
  }
  if (!username && !password) return undefined;
  return { username, password, source: path };
}
