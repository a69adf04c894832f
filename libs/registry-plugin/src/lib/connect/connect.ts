import type { AurenConfig } from '../config/options';
// Not through config/options: loading the options' schema validator costs the scan fingerprint,
// which probes the registry on every scan task, more than the probe itself.
import { isInsecureRegistry, validateRegistryHost } from '../config/registry-address';
import { credentialHelpers } from '../exec/credential-helpers';
import { createAuthenticator } from '../registry/auth/authenticator';
import { resolveCredentials } from '../registry/auth/credentials';
import { createRegistryClient, type RegistryClient, type RegistryClientOptions } from '../registry/client';
import { createDispatcher } from '../registry/tls';

/**
 * A registry client for the configured registry: credentials from the environment or docker's
 * config.json / credential helpers, TLS trust from certs.d, NODE_EXTRA_CA_CERTS or `caFile`,
 * plain HTTP only for explicitly insecure registries and loopback ones that do not speak TLS.
 */
export async function connectRegistry(
  config: Pick<AurenConfig, 'registry' | 'insecureRegistries' | 'caFile'>,
  env: NodeJS.ProcessEnv,
  registry: string = config.registry,
  /** A probe that must stay quick (the scan fingerprint): fewer attempts, shorter waits. */
  tuning: Pick<RegistryClientOptions, 'retry' | 'requestTimeoutMs'> & { tokenTimeoutMs?: number } = {},
): Promise<RegistryClient> {
  // Every command's --registry, a promote's target, a mirror's source: an address with
  // credentials in it is refused here, before any request could carry or print it.
  validateRegistryHost(registry, 'the registry address');
  // Configured insecure: plain HTTP. Loopback: left to the client, which tries HTTPS first (a
  // tunnel to a real registry) and falls back to HTTP only when the server does not speak TLS.
  const insecure = isInsecureRegistry(registry, config.insecureRegistries) ? true : undefined;
  const dispatcher = insecure ? undefined : await createDispatcher({ registry, caFile: config.caFile, env });
  return createRegistryClient({
    registry,
    insecure,
    dispatcher,
    ...(tuning.retry ? { retry: tuning.retry } : {}),
    ...(tuning.requestTimeoutMs ? { requestTimeoutMs: tuning.requestTimeoutMs } : {}),
    authenticator: createAuthenticator({
      env,
      dispatcher,
      credentials: (host) => credentialsFor(host, config, env),
      ...(tuning.tokenTimeoutMs ? { tokenTimeoutMs: tuning.tokenTimeoutMs } : {}),
    }),
  });
}

/**
 * AUREN_REGISTRY_USERNAME/PASSWORD belong to the configured registry only: a promote or mirror
 * that talks to a second registry must never send them there. Other registries get what the
 * provider variables or docker's config.json hold for them.
 */
export function credentialsFor(host: string, config: Pick<AurenConfig, 'registry'>, env: NodeJS.ProcessEnv) {
  if (host === config.registry) return resolveCredentials(host, { env, helpers: credentialHelpers });
  const { AUREN_REGISTRY_USERNAME: _user, AUREN_REGISTRY_PASSWORD: _password, ...rest } = env;
  return resolveCredentials(host, { env: { ...rest, AUREN_REGISTRY: rest.AUREN_REGISTRY ?? config.registry }, helpers: credentialHelpers });
}
