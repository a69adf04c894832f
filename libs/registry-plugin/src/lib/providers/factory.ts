import { fetch as undiciFetch } from 'undici';
import { registryOverride } from '../config/registry-address';
import { isDockerHub, registryHost } from '../registry/auth/docker-config';
import { createDigitalOceanProvider } from './digitalocean';
import { createDockerHubProvider } from './dockerhub';
import { createGitHubProvider } from './github';
import type { AdapterOptions, Fetch, ProviderKind, RegistryProvider } from './types';

export interface ProviderOptions {
  env?: NodeJS.ProcessEnv;
  fetch?: Fetch;
  /** API origins (tests point them at a local server). */
  baseUrls?: Partial<Record<'digitalocean' | 'github' | 'dockerhub', string>>;
  /** DigitalOcean registry name; default: the first component of `namespace`, else asked from the API. */
  registryName?: string;
  /** The configured namespace (`auren` → DigitalOcean registry `auren`). */
  namespace?: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
  /** Wait at most this long for a rate limit to reset, then stop with a resumable error. Default 10 s. */
  maxRateLimitWaitMs?: number;
  gcPollIntervalMs?: number;
  gcTimeoutMs?: number;
}

export const DEFAULT_BASE_URLS = {
  digitalocean: 'https://api.digitalocean.com',
  github: 'https://api.github.com',
  dockerhub: 'https://hub.docker.com',
} as const;

export function providerKindFor(registry: string): ProviderKind {
  const host = registryHost(registry);
  if (host === 'registry.digitalocean.com') return 'digitalocean';
  if (host === 'ghcr.io') return 'github';
  if (isDockerHub(host)) return 'dockerhub';
  return 'distribution';
}

/**
 * AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD apply to the provider API too, unless
 * AUREN_REGISTRY names another registry (same rule as the registry credentials).
 */
function aurenCredentials(registry: string, env: NodeJS.ProcessEnv): { username?: string; password?: string } {
  const override = registryOverride(env);
  const target = override ? registryHost(override.registry) : undefined;
  const host = registryHost(registry);
  if (target && target !== host && !(isDockerHub(target) && isDockerHub(host))) return {};
  return { username: env.AUREN_REGISTRY_USERNAME || undefined, password: env.AUREN_REGISTRY_PASSWORD || undefined };
}

/**
 * The provider adapter for a registry host. Tokens are read here, once, from the
 * environment; they never appear in messages or logs (every adapter redacts them).
 */
export function providerFor(registry: string, options: ProviderOptions = {}): RegistryProvider {
  const env = options.env ?? process.env;
  const kind = providerKindFor(registry);
  const common = (base: keyof typeof DEFAULT_BASE_URLS): AdapterOptions => ({
    fetch: options.fetch ?? undiciFetch,
    baseUrl: options.baseUrls?.[base] ?? DEFAULT_BASE_URLS[base],
    now: options.now ?? Date.now,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    log: options.log ?? (() => undefined),
    maxRateLimitWaitMs: options.maxRateLimitWaitMs ?? 10_000,
  });
  const auren = aurenCredentials(registry, env);
  switch (kind) {
    case 'digitalocean':
      return createDigitalOceanProvider({
        ...common('digitalocean'),
        registry,
        token: env.DIGITALOCEAN_ACCESS_TOKEN || auren.password,
        registryName: options.registryName ?? (options.namespace ? options.namespace.split('/')[0] || undefined : undefined),
        gcPollIntervalMs: options.gcPollIntervalMs ?? 15_000,
        gcTimeoutMs: options.gcTimeoutMs ?? 60 * 60_000,
      });
    case 'github':
      return createGitHubProvider({ ...common('github'), registry, token: env.GITHUB_TOKEN || auren.password });
    case 'dockerhub':
      return createDockerHubProvider({
        ...common('dockerhub'),
        registry,
        username: env.DOCKERHUB_USERNAME || auren.username,
        token: env.DOCKERHUB_TOKEN || (env.DOCKERHUB_USERNAME ? undefined : auren.password),
      });
    case 'distribution':
      // Self-hosted CNCF distribution: no provider API; GC is our gc executor's job.
      return { kind: 'distribution', registry, label: `registry ${registry}` };
    default: {
      const unhandled: never = kind;
      return unhandled;
    }
  }
}
