import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { AurenError, configError } from '../../errors/errors';

/**
 * Docker's client configuration (`config.json`) and the credential-helper protocol
 * (https://github.com/docker/docker-credential-helpers): `docker-credential-<name> get|store|erase`
 * with the server URL or a JSON document on stdin.
 */
export interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  email?: string;
}

export interface DockerConfigFile {
  auths?: Record<string, DockerAuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [key: string]: unknown;
}

export interface DockerConfigLocation {
  /** Explicit folder holding config.json (wins over $DOCKER_CONFIG and ~/.docker). */
  dockerConfigDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** Docker Hub stores its credentials under this legacy v1 URL, whatever name the user typed. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

export function isDockerHub(registry: string): boolean {
  return DOCKER_HUB_HOSTS.has(registryHost(registry));
}

/** `https://host:port/v1/` → `host:port`; lower-cases the host name. */
export function registryHost(value: string): string {
  const withoutScheme = value.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  return withoutScheme.split('/')[0].toLowerCase();
}

/** The key docker itself would use in `auths` / give to helpers for this registry. */
export function dockerAuthKey(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB_AUTH_KEY : registryHost(registry);
}

export function dockerConfigDir(location: DockerConfigLocation = {}): string {
  const env = location.env ?? process.env;
  if (location.dockerConfigDir) return location.dockerConfigDir;
  if (env.DOCKER_CONFIG) return env.DOCKER_CONFIG;
  return join(env.HOME || homedir(), '.docker');
}

export function dockerConfigPath(location: DockerConfigLocation = {}): string {
  return join(dockerConfigDir(location), 'config.json');
}

export async function readDockerConfig(path: string): Promise<DockerConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw configError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (!text.trim()) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as DockerConfigFile;
  } catch {
    // Never echo the content: it holds credentials.
    throw configError(`${path} is not valid JSON`, 'Fix or remove the file, then run `nx run registry:login` again.');
  }
}

/** Write config.json atomically (temp file + rename) with mode 0600, as docker does. */
export async function writeDockerConfig(path: string, config: DockerConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
    // writeFile's mode is subject to umask; be explicit.
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw configError(`cannot write ${path}: ${(error as Error).message}`);
  }
}

/** Find the `auths` entry for a registry, accepting `host`, `https://host`, `http://host/v1/`… */
export function findAuthEntry(
  auths: Record<string, DockerAuthEntry> | undefined,
  registry: string,
): { key: string; entry: DockerAuthEntry } | undefined {
  if (!auths) return undefined;
  const wanted = dockerAuthKey(registry);
  if (auths[wanted]) return { key: wanted, entry: auths[wanted] };
  const host = registryHost(wanted);
  for (const [key, entry] of Object.entries(auths)) {
    if (registryHost(key) === host || (isDockerHub(registry) && isDockerHub(key))) return { key, entry };
  }
  return undefined;
}

/** The helper docker would use for this registry: `credHelpers[host]` wins over `credsStore`. */
export function helperFor(config: DockerConfigFile, registry: string): string | undefined {
  const helpers = config.credHelpers ?? {};
  const host = registryHost(registry);
  for (const [key, name] of Object.entries(helpers)) {
    if (registryHost(key) === host || (isDockerHub(registry) && isDockerHub(key))) return name || undefined;
  }
  return config.credsStore || undefined;
}

export type { HelperCredentials } from './types';

/** A credential helper is configured but the caller gave no way to run it. */
export function noHelperRunner(helper: string): AurenError {
  return new AurenError('internal', `docker config.json names the credential helper "${helper}", but no helper runner was passed`, 'Pass `helpers: credentialHelpers` (exec/credential-helpers) in the options.');
}
