import type { fetch as undiciFetch } from 'undici';

/**
 * Provider-specific registry APIs that sit beside our OCI distribution client, which stays
 * the one registry client. The distribution API cannot delete a single tag, start a hosted registry's
 * garbage collection or report storage, so each hosted registry gets a small adapter.
 * Capabilities are optional interfaces: callers test for them with the `can*` guards below
 * instead of switching on the provider kind.
 */
export type ProviderKind = 'digitalocean' | 'github' | 'dockerhub' | 'distribution';

export type Fetch = typeof undiciFetch;

export interface RegistryProvider {
  readonly kind: ProviderKind;
  /** Registry host as given (`registry.digitalocean.com`, `ghcr.io`, `127.0.0.1:5000`). */
  readonly registry: string;
  /** Human name for messages ("DigitalOcean API"). */
  readonly label: string;
}

/** One tag as the provider's own API reports it (richer than the distribution tag list). */
export interface ProviderTag {
  /** Full OCI repository name, as used with the registry client (`auren/auren-api`). */
  repository: string;
  tag: string;
  /** Manifest digest the tag points to, when the API reports it. */
  digest?: string;
  /** ISO 8601 time the tag was last pushed or updated. */
  updatedAt?: string;
  /** Size in bytes as the provider counts it (compressed, all layers). */
  sizeBytes?: number;
  /** GHCR: the package version id that carries this tag (and possibly others). */
  versionId?: number;
  /** GHCR: the other tags on the same package version (deleting one deletes all). */
  sharedWith?: string[];
}

export interface TagListOptions {
  /** Resume listing at this cursor (from a `ProviderRateLimitError`). */
  cursor?: string;
  /** Called with every page as it arrives, so work done before a stop is not lost. */
  onPage?: (tags: ProviderTag[], cursor: string) => void;
  /** Items per page (provider maximum applies). */
  pageSize?: number;
}

export interface TagLister {
  /** Every tag of the repository, following the provider's pagination to the end. `[]` when it does not exist. */
  tagList(repository: string, options?: TagListOptions): Promise<ProviderTag[]>;
}

export type TagDeleteResult =
  | { outcome: 'deleted'; removedTags: string[] }
  | { outcome: 'not-found' }
  /** GHCR: the tag's package version carries other tags too; nothing was deleted. */
  | { outcome: 'shares-version'; otherTags: string[] };

export interface TagDeleteOptions {
  /** GHCR: delete the version even though it carries other tags (they go too). */
  withSharedTags?: boolean;
}

export interface TagDeleter {
  tagDelete(repository: string, tag: string, options?: TagDeleteOptions): Promise<TagDeleteResult>;
}

export type GcState = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface GcRun {
  id: string;
  /** Provider status text, e.g. DigitalOcean's "waiting for write JWTs to expire". */
  status: string;
  state: GcState;
  blobsDeleted: number;
  freedBytes: number;
  createdAt?: string;
  updatedAt?: string;
}

export interface GcStartOptions {
  /** Also remove manifests without tags (DigitalOcean GC type). Default: unreferenced blobs only. */
  includeUntaggedManifests?: boolean;
}

export interface GcWaitOptions {
  /** Wait for this run (default: the active one). */
  id?: string;
  pollIntervalMs?: number;
  timeoutMs?: number;
}

export interface GarbageCollector {
  /** `already-running` when the provider allows one collection at a time and one is active. */
  gcStart(options?: GcStartOptions): Promise<{ outcome: 'started' | 'already-running'; run: GcRun }>;
  /** The active collection, or undefined when none is running. */
  gcStatus(): Promise<GcRun | undefined>;
  /** Poll until the collection ends; `onProgress` sees every status change. */
  gcWait(onProgress?: (run: GcRun) => void, options?: GcWaitOptions): Promise<GcRun>;
}

export interface StorageUsageReport {
  usedBytes: number;
  /** Storage included in the plan, when the provider has one. */
  quotaBytes?: number;
  /** Plan name/slug (`basic`, `professional`…). */
  tier?: string;
  /** Whether use above the quota is billed rather than refused. */
  overageAllowed?: boolean;
  /** When the provider last measured the usage. */
  measuredAt?: string;
}

export interface StorageUsage {
  storageUsage(): Promise<StorageUsageReport>;
}

export const canListTags = (p: RegistryProvider): p is RegistryProvider & TagLister =>
  typeof (p as Partial<TagLister>).tagList === 'function';
export const canDeleteTags = (p: RegistryProvider): p is RegistryProvider & TagDeleter =>
  typeof (p as Partial<TagDeleter>).tagDelete === 'function';
export const canCollectGarbage = (p: RegistryProvider): p is RegistryProvider & GarbageCollector =>
  typeof (p as Partial<GarbageCollector>).gcStart === 'function';
export const canReportStorage = (p: RegistryProvider): p is RegistryProvider & StorageUsage =>
  typeof (p as Partial<StorageUsage>).storageUsage === 'function';

/** Shared knobs of every adapter (all injectable for tests). */
export interface AdapterOptions {
  fetch: Fetch;
  /** API origin, e.g. `https://api.digitalocean.com`; tests point it at a local server. */
  baseUrl: string;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Debug lines (method, path, status); never carries a secret. */
  log: (line: string) => void;
  /** Wait this long at most for a rate limit to reset before stopping with a resumable error. */
  maxRateLimitWaitMs: number;
}
