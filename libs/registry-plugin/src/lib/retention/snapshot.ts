import { pushKey, type PushTimes } from '../history/push-times';
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
 * ones), the digest each tag names, and per digest its exact bytes, children and last push.
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
  /**
   * The push history: when each image was last pushed, its age. Without it no image with only
   * development or branch tags has a known age (unless a date tag gives one), so none is deleted.
   */
  pushTimes?: PushTimes;
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

  // Ages only matter for images with a development or branch tag.
  const tagsOf = new Map<string, string[]>();
  for (const t of live) tagsOf.set(t.digest, [...(tagsOf.get(t.digest) ?? []), t.tag]);
  const aging = [...tagsOf].filter(([, list]) => list.some((t) => AGING_KINDS.includes(classifyTag(t)))).map(([digest]) => digest);
  const pushed = options.pushTimes ? await options.pushTimes.newest(aging.map((d) => pushKey(repository, d))) : new Map<string, Date>();
  for (const digest of aging) {
    const time = pushed.get(pushKey(repository, digest));
    if (time) manifests[digest].pushedAt = time.toISOString();
  }

  // The config's `created` is never an age; it is read for the plan to show, on the images whose
  // age nothing else tells (so a reader sees "config created 1970-01-01…" beside "age unknown").
  const unknown = aging.filter((d) => !manifests[d].pushedAt && !tagsOf.get(d)!.some((t) => classifyTag(t) === 'date'));
  const configOf = (digest: string): string | undefined => configs.get(digest);
  const ageTargets = unknown.flatMap((d) => (manifests[d].children.length ? manifests[d].children : [d]));
  // Many manifests share one config (same build, new tag or annotation): read each config once.
  const byConfig = new Map<string, Promise<string | undefined>>();
  const created = new Map<string, string | undefined>();
  await mapLimit([...new Set(ageTargets)], options.concurrency, async (digest) => {
    const config = configOf(digest);
    if (config && !byConfig.has(config)) byConfig.set(config, readConfig(client, repository, config).then((c) => (typeof c?.created === 'string' ? c.created.replace(/[^\x20-\x7e]/g, '?').slice(0, 64) : undefined)));
    created.set(digest, config ? await byConfig.get(config) : undefined);
  });
  for (const digest of unknown) {
    const facts = manifests[digest];
    const times = (facts.children.length ? facts.children : [digest]).map((d) => created.get(d)).filter((c): c is string => !!c);
    if (times.length) facts.configCreated = times.sort().reverse()[0];
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
export async function selectRepositories(client: RegistryClient, namespace: string, requested: readonly string[], historyName?: string): Promise<string[]> {
  const qualify = (r: string) => (namespace && !r.includes('/') ? `${namespace}/${r}` : r);
  if (requested.length) return [...new Set(requested.map(qualify))].sort();
  return catalogImageRepositories(client, namespace, 'This registry may not offer the catalog API; name the repositories with --repositories.', historyName);
}
