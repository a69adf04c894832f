import { catalogImageRepositories } from '../history/store';
import type { RegistryClient } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { isIndexMediaType, type ImageIndex, type ImageManifest } from '../registry/media-types';
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

async function readConfigCreated(client: RegistryClient, repo: string, digest: string): Promise<string | undefined> {
  const stream = await client.blobGet(repo, digest);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    // Image configs are small; a huge one is not worth reading for a timestamp.
    if (size > 4 * 1024 * 1024) {
      stream.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  try {
    const created = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { created?: unknown }).created;
    return typeof created === 'string' ? created : undefined;
  } catch {
    return undefined;
  }
}

/** Every tag and the digest it names now: one storage read, or the tag list and a HEAD per tag. */
export async function tagsResolve(client: RegistryClient, repository: string, options: ReadOptions): Promise<Array<{ tag: string; digest: string }>> {
  if (options.storage) return options.storage.tagsRead(repository);
  const tags = await client.tagList(repository);
  const resolved = await mapLimit(tags, options.concurrency, async (tag) => {
    const head = await client.manifestHead(repository, tag);
    return head === 'not-found' ? undefined : { tag, digest: head.digest };
  });
  return resolved.filter((t): t is { tag: string; digest: string } => t !== undefined);
}

export async function readRepository(client: RegistryClient, repository: string, options: ReadOptions): Promise<LiveRepository> {
  const tagRefs = await tagsResolve(client, repository, options);

  const manifests: Record<string, ManifestFacts> = {};
  const raw = new Map<string, RawManifest>();
  const parsed = new Map<string, ImageManifest | ImageIndex>();

  const load = async (digests: string[]): Promise<void> => {
    const fresh = [...new Set(digests)].filter((d) => !raw.has(d));
    const got = await mapLimit(fresh, options.concurrency, async (digest) => {
      const stored = await options.storage?.manifestRead(repository, digest);
      return { digest, result: stored ?? (await client.manifestGet(repository, digest)) };
    });
    const next: string[] = [];
    for (const { digest, result } of got) {
      // Gone between the tag list and now (another cleanup): nothing to decide about it.
      if (result === 'not-found') continue;
      raw.set(digest, { mediaType: result.mediaType, body: result.body });
      const doc = JSON.parse(result.body.toString('utf8')) as ImageManifest | ImageIndex;
      parsed.set(digest, doc);
      const children = isIndexMediaType(result.mediaType) || 'manifests' in doc ? ((doc as ImageIndex).manifests ?? []).map((m) => m.digest) : [];
      manifests[digest] = { digest, mediaType: result.mediaType, children };
      next.push(...children);
    }
    if (next.length) await load(next);
  };

  const lister = options.lister ?? options.storage;
  const listed = lister ? await lister.manifestDigests(repository) : undefined;
  await load([...tagRefs.map((t) => t.digest), ...(listed ?? [])]);
  const live = tagRefs.filter((t) => raw.has(t.digest));

  // `created` only matters for aging tags on images without a date tag.
  const needsAge = new Set<string>();
  const tagsOf = new Map<string, string[]>();
  for (const t of live) tagsOf.set(t.digest, [...(tagsOf.get(t.digest) ?? []), t.tag]);
  for (const [digest, list] of tagsOf) {
    const kinds = list.map(classifyTag);
    if (kinds.some((k) => AGING_KINDS.includes(k)) && !kinds.includes('date')) needsAge.add(digest);
  }
  const configOf = (digest: string): string | undefined => {
    const doc = parsed.get(digest);
    return doc && 'config' in doc && doc.config ? doc.config.digest : undefined;
  };
  const ageTargets = [...needsAge].flatMap((d) => (manifests[d].children.length ? manifests[d].children : [d]));
  // Many manifests share one config (same build, new tag or annotation): read each config once.
  const byConfig = new Map<string, Promise<string | undefined>>();
  const created = new Map<string, string | undefined>();
  await mapLimit([...new Set(ageTargets)], options.concurrency, async (digest) => {
    const config = configOf(digest);
    if (config && !byConfig.has(config)) byConfig.set(config, readConfigCreated(client, repository, config));
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
