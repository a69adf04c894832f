import { addressHasCredentials, redactAddress } from '../errors/redact';
import { configError, credentialsInAddressError } from '../errors/errors';
import { environmentValue } from './precedence';

/**
 * Registry addresses as the configuration writes them (`host[:port]`, `AUREN_REGISTRY` =
 * `host[:port][/namespace]`), and the one rule for "is this registry insecure".
 */

export { redactAddress };

/** `host[:port]` — a hostname or IPv4/IPv6 literal with an optional port; no scheme, no path. */
const HOST_RE = /^(?:localhost|(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?$/;
/** Repository path components, from the OCI distribution spec's `<name>` grammar. */
const NAMESPACE_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** Refuses an address written with `user:password@`, showing it with the userinfo as `***`. */
export function refuseCredentials(address: string, origin: string): void {
  if (addressHasCredentials(address)) throw credentialsInAddressError(redactAddress(address), origin);
}

export function isRegistryHost(host: string): boolean {
  const match = HOST_RE.exec(host);
  const port = match?.[1] ? Number(match[1]) : undefined;
  return !!match && (port === undefined || (port >= 1 && port <= 65535));
}

export function validateRegistryHost(host: string, origin: string): string {
  // Credentials first: the "invalid address" message below would echo them.
  refuseCredentials(host, origin);
  if (!isRegistryHost(host)) {
    throw configError(
      `invalid registry address "${host}" (from ${origin})`,
      'Use host[:port], for example 127.0.0.1:5000, registry.digitalocean.com or ghcr.io — no scheme and no path.',
    );
  }
  return host;
}

export function validateNamespace(namespace: string, origin: string): string {
  if (namespace !== '' && !NAMESPACE_RE.test(namespace)) {
    throw configError(
      `invalid registry namespace "${namespace}" (from ${origin})`,
      'Use lower-case path components separated by "/", e.g. auren or my-org/auren.',
    );
  }
  return namespace;
}

/** Parses `AUREN_REGISTRY` = `host[:port][/namespace]`. */
export function parseRegistryOverride(value: string): { registry: string; namespace: string | undefined } {
  const trimmed = value.trim();
  refuseCredentials(trimmed, 'AUREN_REGISTRY');
  if (/^[a-z]+:\/\//i.test(trimmed)) {
    throw configError(
      `invalid AUREN_REGISTRY "${value}": no scheme allowed`,
      'Write AUREN_REGISTRY as host[:port][/namespace], e.g. 127.0.0.1:5000/auren.',
    );
  }
  const slash = trimmed.indexOf('/');
  const host = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const namespace = slash === -1 ? undefined : trimmed.slice(slash + 1).replace(/\/+$/, '');
  validateRegistryHost(host, 'AUREN_REGISTRY');
  if (namespace !== undefined) validateNamespace(namespace, 'AUREN_REGISTRY');
  return { registry: host, namespace };
}

/**
 * AUREN_REGISTRY (`host[:port][/namespace]`) parsed and checked; undefined when unset or empty.
 * Here rather than in options.ts so that a light reader (the scan fingerprint) gets the same
 * parse without loading the schema validator.
 */
export function registryOverride(env: NodeJS.ProcessEnv): { registry: string; namespace: string | undefined } | undefined {
  const value = environmentValue(env, 'AUREN_REGISTRY');
  return value ? parseRegistryOverride(value) : undefined;
}

/**
 * The form two spellings of one registry share: DNS names are case-insensitive (RFC 4343), so
 * is the hex of an IPv6 literal; the port is part of the identity and stays as written.
 */
export function registryKey(registry: string): string {
  return registry.toLowerCase();
}

export function sameRegistry(a: string, b: string): boolean {
  return registryKey(a) === registryKey(b);
}

/**
 * Whether `registry` is one the user listed in `insecureRegistries`: the exact host[:port],
 * compared case-insensitively — never a prefix, a suffix or a substring, and a host without a
 * port is not the same registry as that host on a port. Every place that decides plain HTTP or
 * unverified TLS (registry client, builders, cosign, the scanner's database) asks here.
 */
export function isInsecureRegistry(registry: string, insecureRegistries: readonly string[]): boolean {
  return insecureRegistries.some((listed) => sameRegistry(listed, registry));
}
