import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { isInsecureRegistry, isLoopbackRegistry, type SigningConfig } from '../config/options';
import { AurenError, configError } from '../errors/errors';
import { which } from '../exec/exec';
import { probeRegistryScheme, type RegistryScheme } from '../registry/client';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import { builderTlsArgs, createDispatcher } from '../registry/tls';
import type { ExecFn } from './sbom';

/**
 * What signing and verifying share: finding the real cosign, resolving the key, and the
 * registry flags. We never read or write cosign's formats ourselves; cosign signs and verifies.
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

/**
 * cosign refuses plain HTTP unless told: `--allow-http-registry` for a plain-HTTP loopback
 * registry (and registries the user listed as insecure), `--allow-insecure-registry` for their
 * TLS. A loopback registry known to speak HTTPS (`scheme`, from probeRegistryScheme) is verified
 * like any other; without `scheme` a loopback registry is taken for the plain embedded one.
 */
export function registryFlags(registry: string, insecureRegistries: readonly string[], scheme?: RegistryScheme): string[] {
  const insecure = isInsecureRegistry(registry, insecureRegistries) || (isLoopbackRegistry(registry) && scheme !== 'https');
  return insecure ? ['--allow-http-registry', '--allow-insecure-registry'] : [];
}

export interface CosignRegistryAccess {
  flags: string[];
  /** cosign's environment: the registry's CAs added to Go's trust (SSL_CERT_DIR). */
  env: NodeJS.ProcessEnv;
}

/**
 * How cosign reaches `registry`, decided as the client and the builder decide: a loopback
 * registry is probed (HTTPS first, plain HTTP only if it does not speak TLS), and a TLS registry
 * is trusted through the same CAs (certs.d, caFile, NODE_EXTRA_CA_CERTS) and client certificate,
 * instead of switching verification off. Go reads SSL_CERT_DIR in addition to the system bundle
 * file, so the registry's CAs are added to the system roots, not put in their place.
 */
export async function cosignRegistryAccess(
  registry: string,
  insecureRegistries: readonly string[],
  options: { caFile?: string; env: NodeJS.ProcessEnv },
): Promise<CosignRegistryAccess> {
  const { env, caFile } = options;
  if (isInsecureRegistry(registry, insecureRegistries)) return { flags: registryFlags(registry, insecureRegistries), env };
  let scheme: RegistryScheme = 'https';
  if (isLoopbackRegistry(registry)) {
    const dispatcher = createDispatcher({ registry, caFile, env });
    scheme = await probeRegistryScheme(registry, { dispatcher }).finally(() => dispatcher.close());
  }
  if (scheme === 'http') return { flags: registryFlags(registry, insecureRegistries, scheme), env };
  const tls = await builderTlsArgs(registry, { caFile, env, plainHttp: false });
  if (!tls.certDir) return { flags: [], env };
  const clientFlags = existsSync(join(tls.certDir, 'client.cert'))
    ? ['--registry-client-cert', join(tls.certDir, 'client.cert'), '--registry-client-key', join(tls.certDir, 'client.key')]
    : [];
  const certDirs = [env.SSL_CERT_DIR || '/etc/ssl/certs', tls.certDir].join(':');
  return { flags: clientFlags, env: { ...env, SSL_CERT_DIR: certDirs } };
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
