import { AurenError, inputError } from '../errors/errors';
import { createTokenApiClient, encodeName, nextLinkFromHeader, type ApiClient } from './http';
import { splitFirstSegment } from './repository-name';
import type { AdapterOptions, ProviderTag, RegistryProvider, TagDeleteOptions, TagDeleteResult, TagDeleter, TagLister } from './types';

/**
 * GitHub Container Registry through the REST "Packages" API
 * (https://docs.github.com/rest/packages/packages). ghcr.io rejects manifest deletes on the
 * registry API, so a tag goes away by deleting the package *version* that carries it, and a
 * version carries every tag pushed to the same digest: deleting one deletes them all.
 */
export interface GitHubOptions extends AdapterOptions {
  registry: string;
  token: string | undefined;
}

export type GitHubProvider = RegistryProvider & TagLister & TagDeleter;

interface PackageVersion {
  id: number;
  /** The manifest digest for container packages. */
  name: string;
  created_at?: string;
  updated_at?: string;
  metadata?: { package_type?: string; container?: { tags?: string[] } };
}

export const GITHUB_TOKEN_HINT =
  'Set GITHUB_TOKEN (or AUREN_REGISTRY_PASSWORD) to a token with read:packages, and delete:packages for cleanup; in Actions grant `packages: write`.';

/** `owner/pkg/path` → owner `owner`, package `pkg/path`. */
export function splitGhcrRepository(repository: string): { owner: string; packageName: string } {
  const [owner, packageName] = splitFirstSegment(repository, 'ghcr.io', 'ghcr.io repositories are <owner>/<package>, e.g. auren-org/auren-api.');
  return { owner, packageName };
}

export function createGitHubProvider(options: GitHubOptions): GitHubProvider {
  const label = 'GitHub API';
  const api: ApiClient = createTokenApiClient(options, {
    provider: label,
    tokenName: 'GitHub token',
    hint: GITHUB_TOKEN_HINT,
    headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
  });
  const ownerBases = new Map<string, Promise<string>>();

  /** Organisation packages live under /orgs/{org}; a user's own under /user (the token's owner). */
  const ownerBase = (owner: string): Promise<string> => {
    let base = ownerBases.get(owner);
    if (!base) {
      base = api
        .request<{ type?: string }>({ method: 'GET', url: `/users/${encodeURIComponent(owner)}`, what: `looking up owner ${owner}`, allow: [404] })
        .then((res) => {
          if (res.status === 404) throw inputError(`GitHub has no user or organisation "${owner}"`, 'Check the namespace configured for ghcr.io.');
          return res.body?.type === 'Organization' ? `/orgs/${encodeURIComponent(owner)}` : '/user';
        });
      base.catch(() => ownerBases.delete(owner));
      ownerBases.set(owner, base);
    }
    return base;
  };

  async function versionsOf(
    repository: string,
    listOptions: { cursor?: string; pageSize?: number; onPage?: (versions: PackageVersion[], cursor: string) => void } = {},
  ): Promise<PackageVersion[] | 'not-found'> {
    const { owner, packageName } = splitGhcrRepository(repository);
    const base = await ownerBase(owner);
    const perPage = Math.min(listOptions.pageSize ?? 100, 100);
    const what = `listing versions of ghcr.io/${repository}`;
    let next: string | undefined = listOptions.cursor ?? `${base}/packages/container/${encodeName(packageName)}/versions?per_page=${perPage}`;
    const all: PackageVersion[] = [];
    for (let page = 0; next; page++) {
      const cursor: string = api.sameOrigin(next, what);
      const res = await api.request<PackageVersion[]>({ method: 'GET', url: cursor, what, cursor, allow: [404] });
      if (res.status === 404) return page === 0 ? 'not-found' : all;
      const versions = Array.isArray(res.body) ? res.body : [];
      all.push(...versions);
      listOptions.onPage?.(versions, cursor);
      next = nextLinkFromHeader(res.headers.get('link'));
      if (page > 10_000) throw new AurenError('registry', `${label} kept paginating while ${what}`);
    }
    return all;
  }

  const tagsOf = (version: PackageVersion): string[] => version.metadata?.container?.tags ?? [];

  const toTags = (repository: string, versions: PackageVersion[]): ProviderTag[] =>
    versions.flatMap((v) =>
      tagsOf(v).map((tag) => ({
        repository,
        tag,
        digest: v.name,
        versionId: v.id,
        ...(v.updated_at ? { updatedAt: v.updated_at } : {}),
        sharedWith: tagsOf(v).filter((t) => t !== tag),
      })),
    );

  async function tagList(repository: string, listOptions: Parameters<TagLister['tagList']>[1] = {}): Promise<ProviderTag[]> {
    const versions = await versionsOf(repository, {
      cursor: listOptions.cursor,
      pageSize: listOptions.pageSize,
      onPage: listOptions.onPage ? (page, cursor) => listOptions.onPage?.(toTags(repository, page), cursor) : undefined,
    });
    return versions === 'not-found' ? [] : toTags(repository, versions);
  }

  async function tagDelete(repository: string, tag: string, deleteOptions: TagDeleteOptions = {}): Promise<TagDeleteResult> {
    const versions = await versionsOf(repository);
    if (versions === 'not-found') return { outcome: 'not-found' };
    const version = versions.find((v) => tagsOf(v).includes(tag));
    if (!version) return { outcome: 'not-found' };
    const otherTags = tagsOf(version).filter((t) => t !== tag);
    if (otherTags.length && !deleteOptions.withSharedTags) return { outcome: 'shares-version', otherTags };
    const { owner, packageName } = splitGhcrRepository(repository);
    const base = await ownerBase(owner);
    const res = await api.request({
      method: 'DELETE',
      url: `${base}/packages/container/${encodeName(packageName)}/versions/${version.id}`,
      what: `deleting ghcr.io/${repository}:${tag} (package version ${version.id})`,
      allow: [404],
    });
    return res.status === 404 ? { outcome: 'not-found' } : { outcome: 'deleted', removedTags: tagsOf(version) };
  }

  return { kind: 'github', registry: options.registry, label, tagList, tagDelete };
}
