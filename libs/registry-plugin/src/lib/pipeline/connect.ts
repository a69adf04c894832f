import { isLoopbackRegistry, type AurenConfig } from '../config/options';
import { createAuthenticator } from '../registry/auth/authenticator';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import { createDispatcher } from '../registry/tls';

/**
 * A registry client for the configured registry: credentials from the environment or docker's
 * config.json / credential helpers, TLS trust from certs.d, NODE_EXTRA_CA_CERTS or `caFile`,
 * plain HTTP only for loopback or explicitly insecure registries.
 */
export async function connectRegistry(
  config: AurenConfig,
  env: NodeJS.ProcessEnv,
  registry: string = config.registry,
): Promise<RegistryClient> {
  const insecure = isLoopbackRegistry(registry) || config.insecureRegistries.includes(registry);
  const dispatcher = insecure ? undefined : await createDispatcher({ registry, caFile: config.caFile, env });
  return createRegistryClient({
    registry,
    insecure,
    dispatcher,
    authenticator: createAuthenticator({ env, dispatcher }),
  });
}
