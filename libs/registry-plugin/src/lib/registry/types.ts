import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Authenticator } from './auth/types';
import type { RetryOptions } from './http/retry';

/** The `RegistryClient` contract and its values; `client.ts` builds it over the HTTP layer. */

export interface RegistryClientOptions {
  /** `host[:port]`; `docker.io` means Docker Hub (API at registry-1.docker.io). */
  registry: string;
  /**
   * true: plain HTTP; false: HTTPS. Default: HTTPS, except that a loopback host (127.0.0.0/8,
   * localhost, [::1]) that does not speak TLS is reached over plain HTTP (as Docker does).
   */
  insecure?: boolean;
  /** Default: anonymous. */
  authenticator?: Authenticator;
  /** undici dispatcher, e.g. an `Agent` with the registry's CA. */
  dispatcher?: Dispatcher;
  retry?: Partial<RetryOptions>;
  userAgent?: string;
  /** Called once per HTTP exchange (status 0 when the connection failed); for tests and benches. */
  onRequest?: (method: string, url: string, status: number) => void;
  /** Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size. Default 16 MiB. */
  chunkSizeBytes?: number;
  /** Time allowed for the answer's headers once a request (and its body) is sent. Default 60 s. */
  requestTimeoutMs?: number;
  /** Longest silence allowed while an answer's body is read. Default 60 s. */
  bodyIdleTimeoutMs?: number;
  /** A body arriving slower than this over `windowMs` of waiting is abandoned. Default 1 KiB/s over 30 s. */
  lowSpeedLimit?: { bytesPerSecond: number; windowMs: number };
}

export interface BlobGetOptions {
  /**
   * The descriptor's size: a Content-Length over it is refused before reading, and the stream
   * errors before handing out a byte past it (or when it ends short of it).
   */
  size?: number;
}

export interface BlobSource {
  digest: string;
  size: number;
  /** A fresh stream of the whole blob; called again for every retry. */
  open: () => Readable;
  /** Bytes `start..end` inclusive; lets a resumed upload avoid re-reading the head of the blob. */
  openRange?: (start: number, end: number) => Readable;
}

export interface ManifestGetResult {
  mediaType: string;
  digest: string;
  /** Exactly the bytes the registry sent. */
  body: Buffer;
}

export interface ManifestHeadResult {
  mediaType: string;
  digest: string;
  size: number;
}

export interface PingResult {
  /** `Docker-Distribution-API-Version` if the registry sends it. */
  apiVersion: string | undefined;
  latencyMs: number;
}

export interface ListOptions {
  /** Page size sent as `n`; registries may ignore it (distribution 2.8 does for tags). Default 1000. */
  pageSize?: number;
}

export interface RegistryClient {
  readonly registry: string;
  /** `http(s)://host[:port]` the API is reached at. */
  readonly baseUrl: string;
  ping(): Promise<PingResult>;
  blobHead(repo: string, digest: string): Promise<{ size: number } | 'not-found'>;
  /** `checkExists: false` skips the HEAD when the caller already knows the blob is missing. */
  blobUpload(repo: string, source: BlobSource, options?: { checkExists?: boolean }): Promise<'uploaded' | 'already-exists'>;
  blobMount(repo: string, fromRepo: string, digest: string): Promise<'mounted' | 'not-mounted'>;
  /** The blob's bytes; the stream errors if they do not hash to `digest` (or overrun `options.size`). */
  blobGet(repo: string, digest: string, options?: BlobGetOptions): Promise<Readable>;
  /** Bytes `start..end` (inclusive) of a blob, for resuming or chunking a copy without re-reading its head. */
  blobGetRange(repo: string, digest: string, start: number, end: number): Promise<Readable>;
  manifestGet(repo: string, ref: string): Promise<ManifestGetResult | 'not-found'>;
  manifestHead(repo: string, ref: string): Promise<ManifestHeadResult | 'not-found'>;
  manifestPut(repo: string, ref: string, body: Buffer, mediaType: string): Promise<{ digest: string }>;
  manifestDelete(repo: string, digest: string): Promise<'deleted' | 'not-found' | 'unsupported'>;
  /** Every tag, following `Link` pages; `[]` for a repository that does not exist. */
  tagList(repo: string, options?: ListOptions): Promise<string[]>;
  catalogList(options?: ListOptions): Promise<string[]>;
}

/**
 * Removing a tag without its manifest (distribution 3 and OCI distribution spec 1.1:
 * `DELETE /v2/<name>/manifests/<tag>`). `unsupported` when the registry refuses it
 * (distribution 2.8 deletes by digest only).
 */
export interface TagDeleter {
  tagDelete(repo: string, tag: string): Promise<'deleted' | 'not-found' | 'unsupported'>;
}

export function canDeleteTags(client: RegistryClient): client is RegistryClient & TagDeleter {
  return typeof (client as Partial<TagDeleter>).tagDelete === 'function';
}
