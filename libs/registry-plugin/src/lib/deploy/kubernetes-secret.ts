import { stringify as stringifyYaml } from 'yaml';
import { AurenError, inputError } from '../errors/errors';
import { dockerAuthKey } from '../registry/auth/docker-config';
import type { ResolvedCredentials } from '../registry/auth/credentials';

/**
 * A Kubernetes image pull secret for the configured registry, what `doctl registry
 * kubernetes-manifest` prints for DOCR: a `Secret` of type `kubernetes.io/dockerconfigjson`
 * whose `.dockerconfigjson` is a docker config.json with one `auths` entry
 * (https://kubernetes.io/docs/concepts/configuration/secret/#docker-config-secrets).
 */

export type ManifestFormat = 'yaml' | 'json';

export interface PullSecretInput {
  registry: string;
  namespace: string;
  name: string;
  credentials: ResolvedCredentials | undefined;
}

export interface KubernetesSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  type: 'kubernetes.io/dockerconfigjson';
  metadata: { name: string; namespace: string; annotations: Record<string, string> };
  data: { '.dockerconfigjson': string };
}

/** RFC 1123 DNS subdomain (Secret names) and label (namespaces), as the API server checks them. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkName(value: string, maxLength: number, pattern: RegExp, what: string, hint: string): string {
  if (value.length > maxLength || !pattern.test(value)) throw inputError(`invalid ${what} "${value}"`, hint);
  return value;
}

export function validateSecretName(name: string): string {
  return checkName(name, 253, DNS_SUBDOMAIN, 'Secret name',
    'Kubernetes object names are lower-case letters, digits, "-" and "." (at most 253), starting and ending with a letter or digit, e.g. auren-registry.');
}

export function validateNamespaceName(namespace: string): string {
  return checkName(namespace, 63, DNS_LABEL, 'Kubernetes namespace',
    'A namespace is lower-case letters, digits and "-" (at most 63), starting and ending with a letter or digit, e.g. default.');
}

export function buildPullSecret(input: PullSecretInput): KubernetesSecret {
  const name = validateSecretName(input.name);
  const namespace = validateNamespaceName(input.namespace);
  const creds = input.credentials;
  if (!creds) {
    throw new AurenError(
      'auth',
      `no stored credentials for ${input.registry}; a pull secret without them would let no cluster pull`,
      'Run `nx run registry:login` (or set AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD, DIGITALOCEAN_ACCESS_TOKEN, GITHUB_TOKEN) first.',
    );
  }
  if (creds.identityToken) {
    // kubelet reads username/password/auth from a dockerconfigjson, never `identitytoken`.
    throw new AurenError(
      'auth',
      `the credentials for ${input.registry} (from ${creds.source}) are an OAuth identity token, which Kubernetes cannot use to pull`,
      'Log in with a user name and a password or access token: `nx run registry:login --username <user> --passwordStdin`.',
    );
  }
  const auth = Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
  const dockerConfig = { auths: { [dockerAuthKey(input.registry)]: { username: creds.username, password: creds.password, auth } } };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/dockerconfigjson',
    metadata: {
      name,
      namespace,
      // Where the secret came from, never what it holds.
      annotations: { 'auren.dev/registry': input.registry, 'auren.dev/credentials-source': creds.source },
    },
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify(dockerConfig)).toString('base64') },
  };
}

export function renderPullSecret(secret: KubernetesSecret, format: ManifestFormat): string {
  switch (format) {
    case 'yaml':
      return stringifyYaml(secret, { lineWidth: 0 });
    case 'json':
      return `${JSON.stringify(secret, null, 2)}\n`;
    default: {
      const unhandled: never = format;
      throw inputError(`unknown format ${String(unhandled)}`, 'Use yaml or json.');
    }
  }
}
