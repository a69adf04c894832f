import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { SigningConfig } from '../config/options';
import { AurenError, configError } from '../errors/errors';
import { which } from '../exec/exec';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import type { ExecFn } from './sbom';

/**
 * What signing and verifying share: finding the real cosign and resolving the key (its registry
 * access comes from lib/connect/child-tools.ts, as every child tool's does). We never read or
 * write cosign's formats ourselves; cosign signs and verifies.
 */

export const COSIGN_INSTALL_HINT =
  'Install cosign v3 (`bash tools/scripts/setup.sh --test-tools` builds the pinned one into tools/.bin; or https://docs.sigstore.dev/cosign/system_config/installation/) and put it on PATH.';

/** What signing or verifying one digest needs. */
export interface CosignInput {
  /** `<registry>/<repository>@sha256:…` — always by digest, never a tag. */
  reference: string;
  registry: string;
  insecureRegistries: readonly string[];
  /** The plugin's `caFile`, trusted next to certs.d and NODE_EXTRA_CA_CERTS. */
  caFile?: string;
  signing: SigningConfig;
  workspaceRoot: string;
  /** Registry credentials for cosign, handed over in a private DOCKER_CONFIG (never on argv). */
  credentials: ResolvedCredentials | undefined;
  env?: NodeJS.ProcessEnv;
  exec?: ExecFn;
}

/** KMS and other key references cosign resolves itself (`--key awskms://…`, `k8s://ns/secret`). */
export const isKeyReference = (key: string): boolean => /^[a-z0-9]+:\/\//.test(key);

export async function findCosign(env: NodeJS.ProcessEnv): Promise<string> {
  const path = await which('cosign', env);
  if (!path) throw new AurenError('exec', '`cosign` is not installed (not on PATH), and signing is configured', COSIGN_INSTALL_HINT);
  return path;
}

/** A key file relative to the workspace root, made absolute and checked; KMS references as they are. */
export function resolveKey(key: string, workspaceRoot: string, what: 'signing.key' | 'signing.publicKey'): string {
  if (isKeyReference(key)) return key;
  const path = isAbsolute(key) ? key : resolve(workspaceRoot, key);
  if (!existsSync(path)) {
    throw configError(
      `${what} names ${key}, which does not exist`,
      what === 'signing.key'
        ? 'Create a key pair with `COSIGN_PASSWORD=… cosign generate-key-pair` (keep cosign.key out of git), or point signing.key (or AUREN_SIGNING_KEY) at a KMS key such as awskms://….'
        : 'Commit cosign.pub (the public half) and point signing.publicKey at it.',
    );
  }
  return path;
}

export function describeSigning(signing: SigningConfig): string {
  switch (signing.mode) {
    case 'off':
      return 'off (signing: false)';
    case 'local':
      return 'the local key pair in .auren/signing/ (pushes to a loopback registry)';
    case 'none':
      return 'not configured';
    case 'key':
      return `cosign key ${signing.key}${signing.tlog ? ' (transparency log)' : ' (no transparency log)'}`;
    case 'keyless':
      return `cosign keyless (Fulcio certificate for ${signing.identity}, issuer ${signing.issuer})`;
    default: {
      const unhandled: never = signing;
      return String(unhandled);
    }
  }
}
