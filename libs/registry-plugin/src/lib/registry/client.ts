import { createBlobUploads } from './blob-upload';
import { createBlobs } from './blobs';
import { createTransport } from './http/transport';
import { DEFAULT_RETRY } from './http/retry';
import { DEFAULT_BODY_LIMITS } from './http/body-guard';
import { createListing } from './listing';
import { createManifests } from './manifests';
import { DOCKER_HUB } from './reference';
import type { RegistryClient, RegistryClientOptions, TagDeleter } from './types';

/**
 * Our client of the OCI distribution API v2 (https://github.com/opencontainers/distribution-spec,
 * spec.md): a façade over one HTTP layer (`http/`: send, retries, auth, redirects, status →
 * error) and one module per resource (blobs, blob uploads, manifests, listing), as regclient
 * keeps `scheme/reg/{blob,manifest,tag}.go` over `internal/reghttp`. Expected outcomes
 * (`not-found`, `already-exists`, `mounted`…) are values; anything else is an `AurenError`
 * whose hint says what to do next.
 */

export type {
  BlobGetOptions,
  BlobSource,
  ListOptions,
  ManifestGetResult,
  ManifestHeadResult,
  PingResult,
  RegistryClient,
  RegistryClientOptions,
  TagDeleter,
} from './types';
export { canDeleteTags } from './types';
export { DEFAULT_RETRY, type RetryOptions } from './http/retry';
export { LOGIN_HINT } from './http/transport';
export { pullScope, pushScope, deleteScope } from './arguments';
export { probeRegistryScheme, type RegistryScheme } from './http/scheme';

const DEFAULT_CHUNK = 16 * 1024 * 1024;

export function createRegistryClient(options: RegistryClientOptions): RegistryClient & TagDeleter {
  const registry = options.registry;
  const transport = createTransport({
    registry,
    apiHost: registry === DOCKER_HUB ? 'registry-1.docker.io' : registry,
    insecure: options.insecure,
    authenticator: options.authenticator,
    dispatcher: options.dispatcher,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    userAgent: options.userAgent ?? 'auren-registry-plugin',
    requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
    bodyLimits: {
      idleMs: options.bodyIdleTimeoutMs ?? DEFAULT_BODY_LIMITS.idleMs,
      lowSpeed: options.lowSpeedLimit ?? DEFAULT_BODY_LIMITS.lowSpeed,
    },
    onRequest: options.onRequest,
  });
  const blobs = createBlobs(transport);
  return {
    registry,
    get baseUrl() {
      return transport.baseUrl;
    },
    ...createListing(transport),
    ...blobs,
    ...createBlobUploads(transport, blobs, options.chunkSizeBytes ?? DEFAULT_CHUNK),
    ...createManifests(transport),
  };
}
