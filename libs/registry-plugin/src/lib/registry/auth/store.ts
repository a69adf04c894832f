import { inputError } from '../../errors/errors';
import {
  dockerAuthKey,
  dockerConfigPath,
  helperFor,
  noHelperRunner,
  readDockerConfig,
  registryHost,
  isDockerHub,
  writeDockerConfig,
} from './docker-config';
import type { CredentialHelpers, Credentials } from './types';

/**
 * Persisting credentials the way `docker login` does, for the `login` / `logout` commands:
 * through the configured credential helper when there is one (config.json then only keeps an
 * empty `auths` entry, so `docker` still lists the registry), else as base64 `auth` in
 * config.json, written atomically with mode 0600.
 */
export interface StoreOptions {
  /** Folder with config.json; default $DOCKER_CONFIG, else ~/.docker. */
  dockerConfigDir?: string;
  /** Use this helper (`docker-credential-<helper>`) instead of what config.json names. */
  helper?: string;
  env?: NodeJS.ProcessEnv;
  /** Runs the helper (`credentialHelpers` from exec/credential-helpers). */
  helpers?: CredentialHelpers;
}

function runner(options: StoreOptions, helper: string): CredentialHelpers {
  if (!options.helpers) throw noHelperRunner(helper);
  return options.helpers;
}

export interface SavedCredentials {
  /** `helper`: stored by `docker-credential-<helper>`; `config-file`: inline in config.json. */
  storage: 'helper' | 'config-file';
  helper?: string;
  /** The config.json that was written (it always is: the entry or its empty placeholder). */
  configPath: string;
  /** The server key used (`https://index.docker.io/v1/` for Docker Hub). */
  key: string;
}

export interface RemovedCredentials {
  removed: boolean;
  configPath: string;
  helper?: string;
}

/** Docker's helper convention for identity tokens (see credentials.ts). */
const IDENTITY_TOKEN_USER = '<token>';

function sameRegistry(key: string, registry: string): boolean {
  return registryHost(key) === registryHost(registry) || (isDockerHub(key) && isDockerHub(registry));
}

export async function saveCredentials(
  registry: string,
  credentials: Credentials & { identityToken?: string },
  options: StoreOptions = {},
): Promise<SavedCredentials> {
  if (credentials.username.includes(':')) {
    throw inputError('the registry user name must not contain ":"', 'Docker stores credentials as base64("user:password").');
  }
  if (!credentials.password && !credentials.identityToken) throw inputError('no password or token given to store');
  const env = options.env ?? process.env;
  const configPath = dockerConfigPath({ dockerConfigDir: options.dockerConfigDir, env });
  const config = await readDockerConfig(configPath);
  const key = dockerAuthKey(registry);
  const helper = options.helper ?? helperFor(config, registry);
  // Drop aliases of the same registry (`https://host`, `host/v2/`) so no stale secret survives.
  const auths = Object.fromEntries(Object.entries(config.auths ?? {}).filter(([k]) => !sameRegistry(k, registry)));

  if (helper) {
    await runner(options, helper).store(
      helper,
      key,
      credentials.identityToken
        ? { username: IDENTITY_TOKEN_USER, secret: credentials.identityToken }
        : { username: credentials.username, secret: credentials.password },
      env,
    );
    auths[key] = {};
  } else if (credentials.identityToken) {
    auths[key] = { auth: Buffer.from(`${credentials.username}:`).toString('base64'), identitytoken: credentials.identityToken };
  } else {
    auths[key] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') };
  }
  await writeDockerConfig(configPath, { ...config, auths });
  return { storage: helper ? 'helper' : 'config-file', ...(helper ? { helper } : {}), configPath, key };
}

export async function removeCredentials(registry: string, options: StoreOptions = {}): Promise<RemovedCredentials> {
  const env = options.env ?? process.env;
  const configPath = dockerConfigPath({ dockerConfigDir: options.dockerConfigDir, env });
  const config = await readDockerConfig(configPath);
  const helper = options.helper ?? helperFor(config, registry);
  let removed = false;
  if (helper) removed = await runner(options, helper).erase(helper, dockerAuthKey(registry), env);
  const entries = Object.entries(config.auths ?? {});
  const kept = entries.filter(([k]) => !sameRegistry(k, registry));
  if (kept.length !== entries.length) {
    removed = removed || entries.some(([k, v]) => sameRegistry(k, registry) && Object.keys(v ?? {}).length > 0);
    await writeDockerConfig(configPath, { ...config, auths: Object.fromEntries(kept) });
  }
  return { removed, configPath, ...(helper ? { helper } : {}) };
}
