import { catalogImageRepositories } from '../history/store';
import type { RegistryClient } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { readConfig, resolveTags, walkImage, type ManifestFetch } from '../registry/image-graph';
import type { ManifestFacts, RepositorySnapshot } from './policy';
import type { ManifestLister, RegistryStorage } from './storage';
import { AGING_KINDS, classifyTag } from './tags';

/**
 * Reads what retention needs from a live registry: every tag (the client follows `Link` pages
 * to the end or throws, so a truncated list can never make "keep the newest N" pick the wrong
 * ones), the digest each tag names, and per digest its exact bytes, children and age.
 */

export interface RawManifest {
  mediaType: string;
  /** Exactly the bytes the registry holds; the undo journal saves these. */
  body: Buffer;
}

export interface LiveRepository {
  snapshot: RepositorySnapshot;
  raw: Map<string, RawManifest>;
}

export interface ReadOptions {
  concurrency: number;
  lister?: ManifestLister;
  /** Read tags from the registry's storage folder instead of a HEAD per tag. */
  storage?: RegistryStorage;
}

/** Every tag and the digest it names now: one storage read, or the tag list and a HEAD per tag. */
export async function tagsResolve(client: RegistryClient, repository: string, options: ReadOptions): Promise<Array<{ tag: string; digest: string }>> {
  if (options.storage) return options.storage.tagsRead(repository);
  return resolveTags(client, repository, undefined, options.concurrency);
}

export async function readRepository(client: RegistryClient, repository: string, options: ReadOptions): Promise<LiveRepository> {
  const tagRefs = await tagsResolve(client, repository, options);

  const manifests: Record<string, ManifestFacts> = {};
  const raw = new Map<string, RawManifest>();
  const configs = new Map<string, string>();

  const fetch: ManifestFetch = async (digest) => {
    const stored = await options.storage?.manifestRead(repository, digest);
    if (stored === 'not-found') return stored;
    return stored ? { digest, ...stored } : client.manifestGet(repository, digest);
  };
  const lister = options.lister ?? options.storage;
  const listed = lister ? await lister.manifestDigests(repository) : undefined;
  // Manifests gone between the tag list and now (another cleanup) are left out: nothing to decide about them.
  const graph = await walkImage(fetch, [...tagRefs.map((t) => t.digest), ...(listed ?? [])], { concurrency: options.concurrency });
  for (const node of graph.nodes) {
    raw.set(node.digest, { mediaType: node.mediaType, body: node.body });
    manifests[node.digest] = { digest: node.digest, mediaType: node.mediaType, children: node.manifest.children.map((m) => m.digest) };
    if (node.manifest.config) configs.set(node.digest, node.manifest.config.digest);
  }
  const live = tagRefs.filter((t) => raw.has(t.digest));

  // `created` only matters for aging tags on images without a date tag.
  const needsAge = new Set<string>();
  const tagsOf = new Map<string, string[]>();
  for (const t of live) tagsOf.set(t.digest, [...(tagsOf.get(t.digest) ?? []), t.tag]);
  for (const [digest, list] of tagsOf) {
    const kinds = list.map(classifyTag);
    if (kinds.some((k) => AGING_KINDS.includes(k)) && !kinds.includes('date')) needsAge.add(digest);
  }
  const configOf = (digest: string): string | undefined => configs.get(digest);
  const ageTargets = [...needsAge].flatMap((d) => (manifests[d].children.length ? manifests[d].children : [d]));
  // Many manifests share one config (same build, new tag or annotation): read each config once.
  const byConfig = new Map<string, Promise<string | undefined>>();
  const created = new Map<string, string | undefined>();
  await mapLimit([...new Set(ageTargets)], options.concurrency, async (digest) => {
    const config = configOf(digest);
    if (config && !byConfig.has(config)) byConfig.set(config, readConfig(client, repository, config).then((c) => (typeof c?.created === 'string' ? c.created : undefined)));
    created.set(digest, config ? await byConfig.get(config) : undefined);
  });
  for (const digest of needsAge) {
    const facts = manifests[digest];
    const times = (facts.children.length ? facts.children : [digest]).map((d) => created.get(d)).filter((c): c is string => !!c && !Number.isNaN(Date.parse(c)));
    if (times.length) facts.created = times.sort((a, b) => Date.parse(b) - Date.parse(a))[0];
  }

  const tagged = new Set(live.map((t) => t.digest));
  const snapshot: RepositorySnapshot = {
    repository,
    tags: live,
    manifests,
    untagged: listed?.filter((d) => !tagged.has(d) && raw.has(d)),
  };
  return { snapshot, raw };
}

/** Every repository under `namespace/` from the catalog, or the given ones. */
export async function selectRepositories(client: RegistryClient, namespace: string, requested: readonly string[]): Promise<string[]> {
  const qualify = (r: string) => (namespace && !r.includes('/') ? `${namespace}/${r}` : r);
  if (requested.length) return [...new Set(requested.map(qualify))].sort();
  return catalogImageRepositories(client, namespace, 'This registry may not offer the catalog API; name the repositories with --repositories.');
}
