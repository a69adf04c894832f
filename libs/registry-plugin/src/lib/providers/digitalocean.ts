import { AurenError } from '../errors/errors';
import { createTokenApiClient, encodeName, type ApiClient } from './http';
import { splitFirstSegment } from './repository-name';
import type {
  AdapterOptions,
  GarbageCollector,
  GcRun,
  GcState,
  ProviderTag,
  RegistryProvider,
  StorageUsage,
  TagDeleteResult,
  TagDeleter,
  TagLister,
} from './types';

/**
 * DigitalOcean Container Registry through the DigitalOcean API v2
 * (https://docs.digitalocean.com/reference/api/): tags with dates, single-tag delete,
 * garbage collection and storage usage. Paths use the `/v2/registry/...` family, which the
 * API documents alongside its multi-registry successor `/v2/registries/...`.
 */
export interface DigitalOceanOptions extends AdapterOptions {
  registry: string;
  /** API token; undefined fails when a capability is used, naming the variables to set. */
  token: string | undefined;
  /** Registry name (the first path component of every repository); default: asked from the API. */
  registryName?: string;
  gcPollIntervalMs: number;
  gcTimeoutMs: number;
}

export type DigitalOceanProvider = RegistryProvider & TagLister & TagDeleter & GarbageCollector & StorageUsage;

interface DoTag {
  registry_name?: string;
  repository?: string;
  tag: string;
  manifest_digest?: string;
  compressed_size_bytes?: number;
  size_bytes?: number;
  updated_at?: string;
}
interface DoTagsPage {
  tags?: DoTag[];
  meta?: { total?: number };
  links?: { pages?: { next?: string; last?: string } };
}
interface DoGc {
  uuid: string;
  registry_name?: string;
  status: string;
  created_at?: string;
  updated_at?: string;
  blobs_deleted?: number;
  freed_bytes?: number;
}

export const DO_TOKEN_HINT =
  'Set DIGITALOCEAN_ACCESS_TOKEN (or AUREN_REGISTRY_PASSWORD) to a DigitalOcean API token with registry read/write scope.';

/** Every documented garbage-collection status, so a new one fails compilation where it matters. */
const GC_STATUSES = [
  'requested',
  'waiting for write JWTs to expire',
  'scanning manifests',
  'deleting unreferenced blobs',
  'cancelling',
  'failed',
  'succeeded',
  'cancelled',
] as const;
type DoGcStatus = (typeof GC_STATUSES)[number];

export function gcStateOf(status: string): GcState {
  if (!(GC_STATUSES as readonly string[]).includes(status)) return 'running';
  const known = status as DoGcStatus;
  switch (known) {
    case 'requested':
    case 'waiting for write JWTs to expire':
    case 'scanning manifests':
    case 'deleting unreferenced blobs':
    case 'cancelling':
      return 'running';
    case 'failed':
      return 'failed';
    case 'succeeded':
      return 'succeeded';
    case 'cancelled':
      return 'cancelled';
    default: {
      const unhandled: never = known;
      return unhandled;
    }
  }
}

const toRun = (gc: DoGc): GcRun => ({
  id: gc.uuid,
  status: gc.status,
  state: gcStateOf(gc.status),
  blobsDeleted: gc.blobs_deleted ?? 0,
  freedBytes: gc.freed_bytes ?? 0,
  createdAt: gc.created_at,
  updatedAt: gc.updated_at,
});

/** `example/my/repo` → registry `example`, repository `my/repo`. */
export function splitDoRepository(repository: string): { registryName: string; name: string } {
  const [registryName, name] = splitFirstSegment(
    repository,
    'DigitalOcean',
    'On registry.digitalocean.com every repository starts with the registry name: <registry>/<repository>, e.g. auren/auren-api.',
  );
  return { registryName, name };
}

export function createDigitalOceanProvider(options: DigitalOceanOptions): DigitalOceanProvider {
  const label = 'DigitalOcean API';
  const api: ApiClient = createTokenApiClient(options, { provider: label, tokenName: 'DigitalOcean API token', hint: DO_TOKEN_HINT });
  let registryName: Promise<string> | undefined = options.registryName ? Promise.resolve(options.registryName) : undefined;

  const nameOfRegistry = (): Promise<string> => {
    registryName ??= api
      .request<{ registry?: { name?: string } }>({ method: 'GET', url: '/v2/registry', what: 'reading the registry' })
      .then((res) => {
        const name = res.body?.registry?.name;
        if (!name) throw new AurenError('registry', `${label} returned no registry name`, 'Create the registry first (`doctl registry create`).');
        return name;
      });
    registryName.catch(() => (registryName = undefined));
    return registryName;
  };

  async function tagList(repository: string, listOptions: Parameters<TagLister['tagList']>[1] = {}): Promise<ProviderTag[]> {
    const { registryName: reg, name } = splitDoRepository(repository);
    const perPage = Math.min(listOptions.pageSize ?? 100, 200);
    let next: string | undefined = listOptions.cursor ?? `/v2/registry/${reg}/repositories/${encodeName(name)}/tags?per_page=${perPage}`;
    const all: ProviderTag[] = [];
    const what = `listing tags of ${repository}`;
    for (let page = 0; next; page++) {
      const cursor: string = api.sameOrigin(next, what);
      const res = await api.request<DoTagsPage>({ method: 'GET', url: cursor, what, cursor, allow: [404] });
      if (res.status === 404) return all;
      const tags = (res.body?.tags ?? []).map(
        (t): ProviderTag => ({
          repository,
          tag: t.tag,
          ...(t.manifest_digest ? { digest: t.manifest_digest } : {}),
          ...(t.updated_at ? { updatedAt: t.updated_at } : {}),
          ...(typeof t.compressed_size_bytes === 'number' ? { sizeBytes: t.compressed_size_bytes } : {}),
        }),
      );
      all.push(...tags);
      listOptions.onPage?.(tags, cursor);
      next = res.body?.links?.pages?.next || undefined;
      if (page > 10_000) throw new AurenError('registry', `${label} kept paginating while ${what}`);
    }
    return all;
  }

  async function tagDelete(repository: string, tag: string): Promise<TagDeleteResult> {
    const { registryName: reg, name } = splitDoRepository(repository);
    const res = await api.request({
      method: 'DELETE',
      url: `/v2/registry/${reg}/repositories/${encodeName(name)}/tags/${encodeURIComponent(tag)}`,
      what: `deleting tag ${repository}:${tag}`,
      allow: [404],
    });
    return res.status === 404 ? { outcome: 'not-found' } : { outcome: 'deleted', removedTags: [tag] };
  }

  async function gcStatus(): Promise<GcRun | undefined> {
    const reg = await nameOfRegistry();
    const res = await api.request<{ garbage_collection?: DoGc }>({
      method: 'GET',
      url: `/v2/registry/${reg}/garbage-collection`,
      what: 'reading the active garbage collection',
      allow: [404],
    });
    return res.status === 404 || !res.body?.garbage_collection ? undefined : toRun(res.body.garbage_collection);
  }

  async function gcHistory(reg: string): Promise<GcRun[]> {
    const res = await api.request<{ garbage_collections?: DoGc[] }>({
      method: 'GET',
      url: `/v2/registry/${reg}/garbage-collections?per_page=20`,
      what: 'reading past garbage collections',
    });
    return (res.body?.garbage_collections ?? []).map(toRun);
  }

  async function gcStart(startOptions: { includeUntaggedManifests?: boolean } = {}) {
    const reg = await nameOfRegistry();
    const res = await api.request<{ garbage_collection?: DoGc }>({
      method: 'POST',
      url: `/v2/registry/${reg}/garbage-collection`,
      what: `starting garbage collection of registry ${reg}`,
      body: { type: startOptions.includeUntaggedManifests ? 'untagged manifests and unreferenced blobs' : 'unreferenced blobs only' },
      // 409: "only one active garbage collection at a time" — an expected outcome.
      allow: [409],
    });
    if (res.status === 409) {
      const active = await gcStatus();
      if (!active) throw new AurenError('registry', `${label} refused to start a garbage collection (409) but reports none active`, 'Retry in a minute.');
      return { outcome: 'already-running' as const, run: active };
    }
    if (!res.body?.garbage_collection) throw new AurenError('registry', `${label} started a garbage collection but returned no record of it`);
    return { outcome: 'started' as const, run: toRun(res.body.garbage_collection) };
  }

  async function gcWait(onProgress?: (run: GcRun) => void, waitOptions: { id?: string; pollIntervalMs?: number; timeoutMs?: number } = {}) {
    const reg = await nameOfRegistry();
    const interval = waitOptions.pollIntervalMs ?? options.gcPollIntervalMs;
    const deadline = options.now() + (waitOptions.timeoutMs ?? options.gcTimeoutMs);
    let id = waitOptions.id;
    let lastStatus = '';
    for (;;) {
      const active = await gcStatus();
      let run: GcRun | undefined = active && (!id || active.id === id) ? active : undefined;
      if (!run) {
        // Finished collections leave the "active" endpoint; their outcome is in the history.
        const history = await gcHistory(reg);
        run = id ? history.find((r) => r.id === id) : history[0];
        if (!run) {
          throw new AurenError(
            'registry',
            id ? `garbage collection ${id} of registry ${reg} is neither active nor in its history` : `registry ${reg} has no garbage collection to wait for`,
            'Start one with `auren-registry gc` first.',
          );
        }
      }
      id ??= run.id;
      if (run.status !== lastStatus) {
        lastStatus = run.status;
        onProgress?.(run);
      }
      if (run.state !== 'running') return run;
      if (options.now() + interval > deadline) {
        throw new AurenError(
          'registry',
          `garbage collection ${run.id} of registry ${reg} is still "${run.status}" after waiting ${Math.round((waitOptions.timeoutMs ?? options.gcTimeoutMs) / 60_000)} min`,
          'It keeps running on DigitalOcean (the registry stays read-only meanwhile); check it again later.',
        );
      }
      await options.sleep(interval);
    }
  }

  async function storageUsage() {
    const [registry, subscription] = await Promise.all([
      api.request<{ registry?: { name?: string; storage_usage_bytes?: number; storage_usage_bytes_updated_at?: string } }>({
        method: 'GET',
        url: '/v2/registry',
        what: 'reading registry storage usage',
      }),
      api.request<{
        subscription?: { tier?: { slug?: string; name?: string; included_storage_bytes?: number; allow_storage_overage?: boolean } };
      }>({ method: 'GET', url: '/v2/registry/subscription', what: 'reading the registry subscription' }),
    ]);
    const used = registry.body?.registry?.storage_usage_bytes;
    if (typeof used !== 'number') throw new AurenError('registry', `${label} returned no storage_usage_bytes for the registry`);
    const tier = subscription.body?.subscription?.tier;
    return {
      usedBytes: used,
      ...(typeof tier?.included_storage_bytes === 'number' ? { quotaBytes: tier.included_storage_bytes } : {}),
      ...(tier?.slug ? { tier: tier.slug } : {}),
      ...(typeof tier?.allow_storage_overage === 'boolean' ? { overageAllowed: tier.allow_storage_overage } : {}),
      ...(registry.body?.registry?.storage_usage_bytes_updated_at ? { measuredAt: registry.body.registry.storage_usage_bytes_updated_at } : {}),
    };
  }

  return { kind: 'digitalocean', registry: options.registry, label, tagList, tagDelete, gcStart, gcStatus, gcWait, storageUsage };
}
