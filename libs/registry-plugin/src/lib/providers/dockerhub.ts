import { AurenError, inputError } from '../errors/errors';
import { createApiClient, type ApiClient } from './http';
import type { AdapterOptions, ProviderTag, RegistryProvider, TagDeleteResult, TagDeleter, TagLister } from './types';

/**
 * Docker Hub through its web API (https://docs.docker.com/reference/api/hub/latest/): tags
 * with push dates, and single-tag delete. Authentication exchanges the user name and a
 * personal access token for a short-lived JWT at `POST /v2/auth/token` (the documented
 * successor of `/v2/users/login`), renewed once when the API answers 401.
 */
export interface DockerHubOptions extends AdapterOptions {
  registry: string;
  username: string | undefined;
  token: string | undefined;
}

export type DockerHubProvider = RegistryProvider & TagLister & TagDeleter;

interface HubTag {
  name: string;
  digest?: string;
  last_updated?: string;
  tag_last_pushed?: string;
  full_size?: number;
  images?: Array<{ digest?: string }>;
}
interface HubTagsPage {
  count?: number;
  next?: string | null;
  results?: HubTag[];
}

export const DOCKERHUB_TOKEN_HINT =
  'Set DOCKERHUB_USERNAME and DOCKERHUB_TOKEN (a personal access token with delete permission for cleanup), or AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD.';

/** `namespace/repository`; official images (`library/…`) cannot be managed. */
export function splitHubRepository(repository: string): { namespace: string; name: string } {
  const parts = repository.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw inputError(`"${repository}" is not a Docker Hub repository name`, 'Docker Hub repositories are <namespace>/<repository>, e.g. auren/auren-api.');
  }
  return { namespace: parts[0], name: parts[1] };
}

export function createDockerHubProvider(options: DockerHubOptions): DockerHubProvider {
  const label = 'Docker Hub API';
  let jwt: Promise<string> | undefined;
  const jwtValues: string[] = [];

  const login = (): Promise<string> => {
    if (!options.username || !options.token) {
      return Promise.reject(new AurenError('auth', `no Docker Hub credentials for ${options.registry}`, DOCKERHUB_TOKEN_HINT));
    }
    jwt ??= api
      .request<{ access_token?: string; token?: string }>({
        method: 'POST',
        url: '/v2/auth/token',
        what: `signing in to Docker Hub as ${options.username}`,
        body: { identifier: options.username, secret: options.token },
        anonymous: true,
        allow: [401],
      })
      .then((res) => {
        const value = res.body?.access_token ?? res.body?.token;
        if (res.status === 401 || !value) {
          throw new AurenError('auth', `Docker Hub refused the sign-in of ${options.username}`, DOCKERHUB_TOKEN_HINT);
        }
        jwtValues.push(value);
        return value;
      });
    jwt.catch(() => (jwt = undefined));
    return jwt;
  };

  const api: ApiClient = createApiClient({
    ...options,
    provider: label,
    authHint: DOCKERHUB_TOKEN_HINT,
    secrets: () => [...(options.token ? [options.token] : []), ...jwtValues],
    authorization: async () => `Bearer ${await login()}`,
    // The JWT lives 10 minutes; a long cleanup outlives it.
    onUnauthorized: async () => {
      jwt = undefined;
      return Boolean(options.username && options.token);
    },
  });

  async function tagList(repository: string, listOptions: Parameters<TagLister['tagList']>[1] = {}): Promise<ProviderTag[]> {
    const { namespace, name } = splitHubRepository(repository);
    const pageSize = Math.min(listOptions.pageSize ?? 100, 100);
    const what = `listing tags of docker.io/${repository}`;
    let next: string | undefined =
      listOptions.cursor ?? `/v2/namespaces/${encodeURIComponent(namespace)}/repositories/${encodeURIComponent(name)}/tags?page_size=${pageSize}`;
    const all: ProviderTag[] = [];
    for (let page = 0; next; page++) {
      const cursor: string = api.sameOrigin(next, what);
      const res = await api.request<HubTagsPage>({ method: 'GET', url: cursor, what, cursor, allow: [404] });
      if (res.status === 404) return all;
      const tags = (res.body?.results ?? []).map((t): ProviderTag => {
        const digest = t.digest ?? t.images?.find((i) => i.digest)?.digest;
        const updatedAt = t.tag_last_pushed ?? t.last_updated;
        return {
          repository,
          tag: t.name,
          ...(digest ? { digest } : {}),
          ...(updatedAt ? { updatedAt } : {}),
          ...(typeof t.full_size === 'number' ? { sizeBytes: t.full_size } : {}),
        };
      });
      all.push(...tags);
      listOptions.onPage?.(tags, cursor);
      next = res.body?.next || undefined;
      if (page > 10_000) throw new AurenError('registry', `${label} kept paginating while ${what}`);
    }
    return all;
  }

  async function tagDelete(repository: string, tag: string): Promise<TagDeleteResult> {
    const { namespace, name } = splitHubRepository(repository);
    const res = await api.request({
      method: 'DELETE',
      url: `/v2/repositories/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/tags/${encodeURIComponent(tag)}/`,
      what: `deleting tag docker.io/${repository}:${tag}`,
      allow: [404],
    });
    return res.status === 404 ? { outcome: 'not-found' } : { outcome: 'deleted', removedTags: [tag] };
  }

  return { kind: 'dockerhub', registry: options.registry, label, tagList, tagDelete };
}
