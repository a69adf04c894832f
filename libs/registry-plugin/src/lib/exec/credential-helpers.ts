import { AurenError } from '../errors/errors';
import type { CredentialHelpers, HelperCredentials } from '../registry/auth/types';
import { exec, which } from './exec';

/**
 * Runs docker credential helpers (https://github.com/docker/docker-credential-helpers) for the
 * registry layer, which declares the protocol (`CredentialHelpers`) but spawns nothing itself.
 */

const NOT_FOUND = /credentials not found/i;

function helperHint(helper: string): string {
  return `Check that \`docker-credential-${helper}\` is installed and unlocked, or set AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD.`;
}

/** Fail early, naming the configuration that asked for the helper, when it is not installed. */
async function requireHelper(helper: string, env: NodeJS.ProcessEnv | undefined): Promise<string> {
  const file = `docker-credential-${helper}`;
  const found = await which(file, env ?? process.env);
  if (!found) {
    throw new AurenError(
      'auth',
      `docker config.json names the credential helper "${helper}", but \`${file}\` is not on PATH`,
      `Install ${file}, remove "${helper}" from credsStore/credHelpers in config.json, or set AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD.`,
    );
  }
  return found;
}

/** `docker-credential-<helper> get`: undefined when the helper has nothing for this server. */
export async function helperGet(helper: string, serverUrl: string, env?: NodeJS.ProcessEnv): Promise<HelperCredentials | undefined> {
  const result = await exec(await requireHelper(helper, env), ['get'], { input: serverUrl, env, okExitCodes: [1], timeoutMs: 30_000 });
  if (result.exitCode !== 0) {
    if (NOT_FOUND.test(result.stdout) || NOT_FOUND.test(result.stderr)) return undefined;
    // Do not quote helper output: a misbehaving helper might print the secret.
    throw new AurenError('auth', `docker-credential-${helper} get failed for ${serverUrl} (exit ${result.exitCode})`, helperHint(helper));
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(result.stdout) as typeof parsed;
  } catch {
    throw new AurenError('auth', `docker-credential-${helper} get returned invalid JSON for ${serverUrl}`, helperHint(helper));
  }
  if (typeof parsed.Secret !== 'string' || !parsed.Secret) return undefined;
  return { username: typeof parsed.Username === 'string' ? parsed.Username : '', secret: parsed.Secret };
}

export async function helperStore(helper: string, serverUrl: string, creds: HelperCredentials, env?: NodeJS.ProcessEnv): Promise<void> {
  const input = JSON.stringify({ ServerURL: serverUrl, Username: creds.username, Secret: creds.secret });
  await exec(await requireHelper(helper, env), ['store'], { input, env, redact: [creds.secret], timeoutMs: 30_000 });
}

/** `erase`; returns false when the helper had nothing stored. */
export async function helperErase(helper: string, serverUrl: string, env?: NodeJS.ProcessEnv): Promise<boolean> {
  const result = await exec(await requireHelper(helper, env), ['erase'], { input: serverUrl, env, okExitCodes: [1], timeoutMs: 30_000 });
  if (result.exitCode === 0) return true;
  if (NOT_FOUND.test(result.stdout) || NOT_FOUND.test(result.stderr)) return false;
  throw new AurenError('auth', `docker-credential-${helper} erase failed for ${serverUrl} (exit ${result.exitCode})`, helperHint(helper));
}

export const credentialHelpers: CredentialHelpers = { get: helperGet, store: helperStore, erase: helperErase };
