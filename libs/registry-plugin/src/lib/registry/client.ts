import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { fetch, type Dispatcher, type Response } from 'undici';
import { AurenError } from '../errors/errors';
import { redactText } from '../exec/exec';
import { isLoopbackRegistry } from '../config/options';
import { isValidTag } from '../tags/grammar';
import type { Authenticator, Scope } from './auth/types';
import { isDigest, sha256Digest } from './digest';
import { ACCEPT_MANIFESTS, isManifestMediaType } from './media-types';
import { DOCKER_HUB, validateRepository } from './reference';

/**
 * Our client of the OCI distribution API v2 (https://github.com/opencontainers/distribution-spec,
 * spec.md). Expected outcomes (`not-found`, `already-exists`, `mounted`…) are values; anything
 * else is an `AurenError` whose hint says what to do next.
 */

export interface RetryOptions {
  /** Attempts per request, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Give up retrying once this much time has passed since the first attempt. */
  deadlineMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8_000, deadlineMs: 120_000 };

export interface RegistryClientOptions {
  /** `host[:port]`; `docker.io` means Docker Hub (API at registry-1.docker.io). */
  registry: string;
  /** Plain HTTP. Default: true only for loopback hosts (127.0.0.0/8, localhost, [::1]). */
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
  /** Time allowed for the answer's headers on requests without a body. Default 60 s. */
  requestTimeoutMs?: number;
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
  /** Page size sent as `n`; registries may ignore it. Default 1000. */
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
  /** The blob's bytes; the stream errors if they do not hash to `digest`. */
  blobGet(repo: string, digest: string): Promise<Readable>;
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

/** OCI distribution spec: registries SHOULD accept manifests up to 4 MiB; we refuse more. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_JSON_BYTES = 32 * 1024 * 1024;
const MAX_PAGES = 10_000;
const DEFAULT_CHUNK = 16 * 1024 * 1024;

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_ABORTED',
]);
/** Failures of our own side (the blob file, its length), never the network's. */
const LOCAL_CODES = new Set(['ENOENT', 'EACCES', 'EISDIR', 'EMFILE', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH']);
const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|EPROTO/;

export const LOGIN_HINT = 'Set AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD or run `nx run registry:login`.';

export const pullScope = (repo: string): Scope => `repository:${repo}:pull`;
export const pushScope = (repo: string): Scope => `repository:${repo}:pull,push`;
export const deleteScope = (repo: string): Scope => `repository:${repo}:delete`;
const CATALOG_SCOPE: Scope = 'registry:catalog:*';

/** Failure of the transport (no HTTP answer), with the errno-style code if there is one. */
class NetworkFailure extends Error {
  constructor(readonly code: string, message: string, readonly original: unknown) {
    super(message);
  }
}

interface RequestSpec {
  method: string;
  url: string;
  scopes: Scope[];
  /** For messages: "HEAD blob sha256:… in auren/api". */
  what: string;
  headers?: Record<string, string>;
  /** A factory, so a retry (or the 401 round trip) can send the body again. */
  body?: () => Buffer | Readable;
  /** Retry 5xx/429/dropped connections here; false when the caller resumes on its own. */
  retry?: boolean;
}

export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const registry = options.registry;
  const insecure = options.insecure ?? isLoopbackRegistry(registry);
  const apiHost = registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
  const baseUrl = `${insecure ? 'http' : 'https'}://${apiHost}`;
  const retry: RetryOptions = { ...DEFAULT_RETRY, ...options.retry };
  const userAgent = options.userAgent ?? 'auren-registry-plugin';
  const chunkSize = options.chunkSizeBytes ?? DEFAULT_CHUNK;
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  const authenticator = options.authenticator;

  const redact = (text: string) => redactText(text, authenticator?.secrets() ?? []);
  const url = (path: string) => `${baseUrl}${path}`;
  const repoPath = (repo: string) => `/v2/${validateRepository(repo)}`;

  // ---------------------------------------------------------------- errors

  function unreachable(failure: NetworkFailure, what: string, attempts: number): AurenError {
    const tried = attempts > 1 ? ` after ${attempts} attempts` : '';
    if (TLS_CODES.test(failure.code)) {
      return new AurenError(
        'registry',
        `TLS with registry ${registry} failed (${failure.code}) on ${what}`,
        insecure
          ? 'The registry may not speak plain HTTP; remove it from insecureRegistries.'
          : "Trust the registry's CA with `caFile` in nx.json (or NODE_EXTRA_CA_CERTS), or add it to `insecureRegistries` if it serves plain HTTP.",
        { cause: failure.original },
      );
    }
    const hint = isLoopbackRegistry(registry)
      ? 'Start it with `nx run registry:serve` or set AUREN_REGISTRY.'
      : 'Check the address, DNS and network (proxy, firewall) or set AUREN_REGISTRY.';
    return new AurenError(
      'registry',
      `registry ${registry} is not reachable (${failure.code})${tried} on ${what}`,
      hint,
      { cause: failure.original },
    );
  }

  function localFailure(error: unknown, what: string): unknown {
    let inner: unknown = error;
    while ((inner as { cause?: unknown })?.cause) inner = (inner as { cause?: unknown }).cause;
    const message = inner instanceof Error ? inner.message : String(inner);
    if (error instanceof TypeError && /fetch failed/.test(error.message)) {
      return new AurenError('input', `sending ${what} failed on our side: ${message}`, 'Check that the image artifact on disk is complete and readable (rebuild it if not).', { cause: error });
    }
    return error;
  }

  async function describeBody(res: Response): Promise<string> {
    const text = await res.text().catch(() => '');
    try {
      const parsed = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      if (Array.isArray(parsed.errors) && parsed.errors.length) {
        return parsed.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
      }
    } catch {
      // not JSON: show the start of it
    }
    return redact(text.replace(/\s+/g, ' ').trim().slice(0, 200));
  }

  async function unexpected(res: Response, what: string, hint?: string): Promise<AurenError> {
    const detail = await describeBody(res);
    return new AurenError(
      'registry',
      `registry ${registry} answered ${res.status} to ${what}${detail ? `: ${detail}` : ''}`,
      hint ?? (res.status >= 500 ? 'The registry is failing; check its logs or status page and retry.' : undefined),
    );
  }

  function garbage(what: string, problem: string): AurenError {
    return new AurenError(
      'registry',
      `registry ${registry} sent an invalid answer to ${what}: ${problem}`,
      `Check that ${baseUrl} is an OCI distribution registry and not a proxy or web page answering in its place.`,
    );
  }

  // ---------------------------------------------------------------- transport

  function networkFailure(error: unknown): NetworkFailure | undefined {
    let current: unknown = error;
    for (let depth = 0; current && depth < 5; depth++) {
      const e = current as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
      if (e.name === 'TimeoutError' || e.name === 'AbortError') return new NetworkFailure('ETIMEDOUT', 'timed out', error);
      if (typeof e.code === 'string' && LOCAL_CODES.has(e.code)) return undefined;
      if (typeof e.code === 'string' && (RETRYABLE_CODES.has(e.code) || TLS_CODES.test(e.code) || /^E[A-Z]+$/.test(e.code))) {
        return new NetworkFailure(e.code, String(e.message ?? e.code), error);
      }
      if (typeof e.message === 'string' && /other side closed|socket hang up/i.test(e.message)) {
        return new NetworkFailure('ECONNRESET', e.message, error);
      }
      current = e.cause;
    }
    if (error instanceof TypeError && /fetch failed/.test(error.message)) return new NetworkFailure('EFETCH', error.message, error);
    return undefined;
  }

  function backoff(attempt: number): number {
    const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
    // "Full jitter": spreads retries of many clients hitting one sick registry.
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  function retryAfterMs(res: Response): number | undefined {
    const value = res.headers.get('retry-after');
    if (!value) return undefined;
    if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
    const date = Date.parse(value);
    return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
  }

  const isRetryableStatus = (status: number) => status === 429 || (status >= 500 && status !== 501 && status !== 505);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function exchange(spec: RequestSpec, authorization: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { 'user-agent': userAgent, 'accept-encoding': 'identity', ...spec.headers };
    if (authorization) headers.authorization = authorization;
    const body = spec.body?.();
    const controller = new AbortController();
    // Bodies can take long to send; only body-less requests get a deadline for the answer.
    const timer = body === undefined ? setTimeout(() => controller.abort(), requestTimeoutMs) : undefined;
    try {
      const res = await fetch(spec.url, {
        method: spec.method,
        headers,
        body: body instanceof Readable ? (body as unknown as AsyncIterable<Uint8Array>) : body,
        duplex: body instanceof Readable ? 'half' : undefined,
        dispatcher: options.dispatcher,
        redirect: 'follow',
        signal: controller.signal,
      } as Parameters<typeof fetch>[1]);
      options.onRequest?.(spec.method, spec.url, res.status);
      // An early answer (401, 5xx) can leave the body half read; close its file now.
      if (body instanceof Readable && !body.readableEnded) body.destroy();
      return res;
    } catch (error) {
      options.onRequest?.(spec.method, spec.url, 0);
      if (body instanceof Readable) body.destroy();
      throw error;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  async function discard(res: Response): Promise<void> {
    await res.arrayBuffer().catch(() => undefined);
  }

  /**
   * One request with auth and retries. Returns any HTTP answer except 401/403 (typed errors)
   * and, when retrying, exhausted 5xx/429 (typed error too).
   */
  async function send(spec: RequestSpec): Promise<Response> {
    const started = Date.now();
    const canRetry = spec.retry !== false;
    let authorization = authenticator?.cached(registry, spec.scopes);
    let authorized = false;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await exchange(spec, authorization);
      } catch (error) {
        if (error instanceof AurenError) throw error;
        const failure = networkFailure(error);
        if (!failure) throw localFailure(error, spec.what);
        const delay = backoff(attempt);
        const retryable = RETRYABLE_CODES.has(failure.code) || failure.code === 'EFETCH';
        if (canRetry && retryable && attempt < retry.attempts && Date.now() - started + delay < retry.deadlineMs) {
          await sleep(delay);
          continue;
        }
        if (!canRetry && retryable) throw failure;
        throw unreachable(failure, spec.what, attempt);
      }

      if (res.status === 401) {
        const challenge = res.headers.get('www-authenticate');
        await discard(res);
        if (authenticator && challenge && !authorized) {
          authorized = true;
          authorization = await authenticator.authorize(registry, challenge, spec.scopes);
          if (authorization) {
            attempt--;
            continue;
          }
        }
        throw new AurenError(
          'auth',
          `registry ${registry} refused ${spec.what} (401 unauthorized${authorization ? ', credentials rejected' : ''})`,
          LOGIN_HINT,
        );
      }
      if (res.status === 403) {
        const detail = await describeBody(res);
        throw new AurenError(
          'auth',
          `registry ${registry} denied ${spec.what} (403 forbidden)${detail ? `: ${detail}` : ''}`,
          `The credentials lack ${spec.scopes.join(' ') || 'access'}; use an account or token with that permission, or ${LOGIN_HINT.replace(/^Set/, 'set')}`,
        );
      }
      if (isRetryableStatus(res.status)) {
        const after = retryAfterMs(res);
        const delay = Math.max(after ?? 0, backoff(attempt));
        const elapsed = Date.now() - started;
        if (canRetry && attempt < retry.attempts && elapsed + delay < retry.deadlineMs) {
          await discard(res);
          await sleep(delay);
          continue;
        }
        if (!canRetry) return res;
        const why =
          res.status === 429
            ? 'The registry is rate-limiting; retry later, lower push concurrency, or authenticate for a higher limit.'
            : 'The registry is failing; check its logs or status page and retry.';
        const base = await unexpected(res, spec.what, why);
        throw new AurenError('registry', `${base.message} (gave up after ${attempt} attempt${attempt > 1 ? 's' : ''})`, base.hint);
      }
      return res;
    }
  }

  async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > limit) {
      await res.body?.cancel().catch(() => undefined);
      throw garbage(what, `${declared} bytes is more than the ${limit} allowed`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > limit) throw garbage(what, `more than the ${limit} bytes allowed`);
        chunks.push(Buffer.from(chunk));
      }
    }
    return Buffer.concat(chunks);
  }

  async function readJson<T>(res: Response, what: string): Promise<T> {
    const body = await readLimited(res, MAX_JSON_BYTES, what);
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw garbage(what, `expected JSON, got "${redact(body.toString('utf8', 0, 80)).replace(/\s+/g, ' ')}"`);
    }
  }

  function checkDigestArg(digest: string): string {
    if (!isDigest(digest)) {
      throw new AurenError('input', `invalid digest "${digest}"`, 'A digest looks like sha256:<64 lower-case hex characters>.');
    }
    return digest;
  }

  function checkReferenceArg(ref: string): string {
    if (!isValidTag(ref) && !isDigest(ref)) {
      throw new AurenError(
        'input',
        `invalid manifest reference "${ref}"`,
        'Use a tag (1–128 characters from [A-Za-z0-9_.-], not starting with "." or "-") or a digest (sha256:<64 hex>).',
      );
    }
    return ref;
  }

  function location(res: Response, what: string): string {
    const value = res.headers.get('location');
    if (!value) throw garbage(what, `${res.status} without a Location header`);
    return new URL(value, baseUrl).toString();
  }

  const withQuery = (target: string, query: string) => `${target}${target.includes('?') ? '&' : '?'}${query}`;

  /** `Range: 0-<last>` of an upload session → the next offset to send. */
  function nextOffset(res: Response): number | undefined {
    const match = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get('range') ?? '');
    if (!match) return undefined;
    const last = Number(match[1]);
    // distribution answers "0-0" for an empty session as well as for one byte; an empty
    // session is the case that happens (right after POST), a one-byte chunk never does.
    return last === 0 ? 0 : last + 1;
  }

  function digestHeader(res: Response, what: string): string | undefined {
    const value = res.headers.get('docker-content-digest') ?? undefined;
    if (value !== undefined && !isDigest(value)) throw garbage(what, `malformed Docker-Content-Digest "${value}"`);
    return value;
  }

  // ---------------------------------------------------------------- blobs

  async function blobHead(repo: string, digest: string): Promise<{ size: number } | 'not-found'> {
    const what = `HEAD blob ${checkDigestArg(digest)} in ${repo}`;
    const res = await send({ method: 'HEAD', url: url(`${repoPath(repo)}/blobs/${digest}`), scopes: [pullScope(repo)], what });
    await discard(res);
    if (res.status === 404) return 'not-found';
    if (res.status !== 200) throw await unexpected(res, what);
    const size = Number(res.headers.get('content-length'));
    if (!Number.isSafeInteger(size) || size < 0) throw garbage(what, 'no valid Content-Length');
    const answered = digestHeader(res, what);
    if (answered && answered !== digest) throw garbage(what, `it names digest ${answered}`);
    return { size };
  }

  async function startUpload(repo: string): Promise<string> {
    const what = `starting an upload to ${repo}`;
    const res = await send({
      method: 'POST',
      url: url(`${repoPath(repo)}/blobs/uploads/`),
      scopes: [pushScope(repo)],
      what,
      headers: { 'content-length': '0' },
    });
    if (res.status !== 202) throw await unexpected(res, what);
    await discard(res);
    return location(res, what);
  }

  async function cancelUpload(target: string, repo: string): Promise<void> {
    await send({ method: 'DELETE', url: target, scopes: [pushScope(repo)], what: `cancelling an upload to ${repo}`, retry: false })
      .then(discard)
      .catch(() => undefined);
  }

  function openRange(source: BlobSource, start: number, end: number): Readable {
    if (source.openRange) return source.openRange(start, end);
    // No random access: read through the stream and keep only the wanted bytes.
    return sliceStream(source.open(), start, end);
  }

  function uploadFailed(res: Response | undefined, source: BlobSource, repo: string, detail: string): AurenError {
    if (res && res.status === 400 && /DIGEST_INVALID|SIZE_INVALID/.test(detail)) {
      return new AurenError(
        'registry',
        `registry ${registry} rejected blob ${source.digest} for ${repo}: ${detail}`,
        'The local blob does not match its digest (changed or corrupt file); rebuild the image artifact.',
      );
    }
    return new AurenError(
      'registry',
      `upload of blob ${source.digest} to ${registry}/${repo} failed${res ? ` (${res.status})` : ''}: ${detail}`,
      res && res.status >= 500 ? 'The registry is failing; check its logs or status page and retry.' : undefined,
    );
  }

  /**
   * Streams a blob: one PUT for small blobs (after POST, as the spec's "POST then PUT"), PATCH
   * chunks for large ones. After a failed chunk we ask the session where it stands (GET on the
   * upload URL → `Range`) and continue from there; if the registry dropped the session (distribution
   * cancels it when a half-written PATCH left it at an unexpected offset) we open a new one.
   */
  async function blobUpload(
    repo: string,
    source: BlobSource,
    uploadOptions: { checkExists?: boolean } = {},
  ): Promise<'uploaded' | 'already-exists'> {
    checkDigestArg(source.digest);
    if (uploadOptions.checkExists !== false && (await blobHead(repo, source.digest)) !== 'not-found') return 'already-exists';
    const started = Date.now();
    let failures = 0;
    let target = await startUpload(repo);
    let offset = 0;

    const recover = async (why: NetworkFailure | { res: Response; detail: string }): Promise<void> => {
      failures++;
      const res = why instanceof NetworkFailure ? undefined : why.res;
      const detail = why instanceof NetworkFailure ? `connection failed (${why.code})` : why.detail;
      if (failures >= retry.attempts || Date.now() - started > retry.deadlineMs) {
        throw uploadFailed(res, source, repo, `${detail}; gave up after ${failures} attempts`);
      }
      const after = res ? retryAfterMs(res) : undefined;
      await sleep(Math.max(after ?? 0, backoff(failures)));
      // The final PUT may have landed even though its answer was lost.
      if ((await blobHead(repo, source.digest)) !== 'not-found') {
        offset = source.size;
        target = '';
        return;
      }
      const status = await send({ method: 'GET', url: target, scopes: [pushScope(repo)], what: `upload status of ${source.digest}` });
      await discard(status);
      const resumeAt = status.status === 204 ? nextOffset(status) : undefined;
      if (resumeAt !== undefined && resumeAt <= source.size && source.size > chunkSize) {
        target = location(status, 'upload status');
        offset = resumeAt;
      } else {
        if (status.status === 204) await cancelUpload(target, repo);
        target = await startUpload(repo);
        offset = 0;
      }
    };

    const attempt = async (request: RequestSpec, ok: number): Promise<Response | undefined> => {
      let res: Response;
      try {
        res = await send({ ...request, retry: false });
      } catch (error) {
        if (!(error instanceof NetworkFailure)) throw error;
        await recover(error);
        return undefined;
      }
      if (res.status === ok) return res;
      const detail = await describeBody(res);
      if (res.status === 400 && /DIGEST_INVALID|SIZE_INVALID/.test(detail)) throw uploadFailed(res, source, repo, detail);
      if (isRetryableStatus(res.status) || res.status === 404 || res.status === 416 || /BLOB_UPLOAD_(INVALID|UNKNOWN)/.test(detail)) {
        await recover({ res, detail });
        return undefined;
      }
      throw uploadFailed(res, source, repo, detail);
    };

    while (target) {
      if (source.size <= chunkSize) {
        const res = await attempt(
          {
            method: 'PUT',
            url: withQuery(target, `digest=${encodeURIComponent(source.digest)}`),
            scopes: [pushScope(repo)],
            what: `PUT blob ${source.digest} to ${repo}`,
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(source.size) },
            body: () => source.open(),
          },
          201,
        );
        if (res) {
          await discard(res);
          return 'uploaded';
        }
        continue;
      }
      if (offset < source.size) {
        const end = Math.min(offset + chunkSize, source.size) - 1;
        const from = offset;
        const res = await attempt(
          {
            method: 'PATCH',
            url: target,
            scopes: [pushScope(repo)],
            what: `PATCH blob ${source.digest} bytes ${from}-${end} to ${repo}`,
            headers: {
              'content-type': 'application/octet-stream',
              'content-range': `${from}-${end}`,
              'content-length': String(end - from + 1),
            },
            body: () => openRange(source, from, end),
          },
          202,
        );
        if (res) {
          await discard(res);
          target = location(res, 'PATCH blob');
          const next = nextOffset(res) ?? end + 1;
          if (next !== end + 1) throw garbage(`PATCH blob ${source.digest}`, `Range says ${next} bytes were stored, ${end + 1} were sent`);
          offset = next;
        }
        continue;
      }
      const res = await attempt(
        {
          method: 'PUT',
          url: withQuery(target, `digest=${encodeURIComponent(source.digest)}`),
          scopes: [pushScope(repo)],
          what: `finishing upload of blob ${source.digest} to ${repo}`,
          headers: { 'content-length': '0' },
        },
        201,
      );
      if (res) {
        await discard(res);
        return 'uploaded';
      }
    }
    return 'uploaded';
  }

  async function blobMount(repo: string, fromRepo: string, digest: string): Promise<'mounted' | 'not-mounted'> {
    const what = `mounting blob ${checkDigestArg(digest)} from ${fromRepo} into ${repo}`;
    validateRepository(fromRepo);
    const res = await send({
      method: 'POST',
      url: url(`${repoPath(repo)}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepo)}`),
      scopes: [pushScope(repo), pullScope(fromRepo)],
      what,
      headers: { 'content-length': '0' },
    });
    await discard(res);
    if (res.status === 201) return 'mounted';
    if (res.status === 202) {
      // Spec: the registry opened an ordinary upload session instead; we do not use it.
      await cancelUpload(location(res, what), repo);
      return 'not-mounted';
    }
    throw await unexpected(res, what);
  }

  async function blobGet(repo: string, digest: string): Promise<Readable> {
    const what = `GET blob ${checkDigestArg(digest)} from ${repo}`;
    const res = await send({ method: 'GET', url: url(`${repoPath(repo)}/blobs/${digest}`), scopes: [pullScope(repo)], what });
    if (res.status === 404) {
      await discard(res);
      throw new AurenError('registry', `blob ${digest} does not exist in ${registry}/${repo}`, 'The image is incomplete in the registry; push it again.');
    }
    if (res.status !== 200) throw await unexpected(res, what);
    if (!res.body) throw garbage(what, 'no body');
    const algorithm = digest.split(':')[0];
    const hash = algorithm === 'sha256' || algorithm === 'sha512' ? createHash(algorithm) : undefined;
    const verify = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash?.update(chunk);
        done(null, chunk);
      },
      flush(done) {
        const got = hash ? `${algorithm}:${hash.digest('hex')}` : digest;
        done(got === digest ? null : garbage(what, `the bytes hash to ${got}`));
      },
    });
    const source = Readable.from(res.body as unknown as AsyncIterable<Uint8Array>);
    const out = new PassThrough();
    source.on('error', (error) => {
      const failure = networkFailure(error);
      out.destroy(failure ? unreachable(failure, what, 1) : error);
    });
    verify.on('error', (error) => out.destroy(error));
    source.pipe(verify).pipe(out);
    return out;
  }

  async function blobGetRange(repo: string, digest: string, start: number, end: number): Promise<Readable> {
    const what = `GET blob ${checkDigestArg(digest)} bytes ${start}-${end} from ${repo}`;
    const res = await send({
      method: 'GET',
      url: url(`${repoPath(repo)}/blobs/${digest}`),
      scopes: [pullScope(repo)],
      what,
      headers: { range: `bytes=${start}-${end}` },
    });
    if (res.status === 404) {
      await discard(res);
      throw new AurenError('registry', `blob ${digest} does not exist in ${registry}/${repo}`, 'The image is incomplete in the registry; push it again.');
    }
    if (res.status !== 206 && res.status !== 200) throw await unexpected(res, what);
    if (!res.body) throw garbage(what, 'no body');
    const source = Readable.from(res.body as unknown as AsyncIterable<Uint8Array>);
    if (res.status === 206) return source;
    // A registry that ignores Range sends the whole blob: keep only the wanted bytes.
    return sliceStream(source, start, end);
  }

  // ---------------------------------------------------------------- manifests

  function checkManifestBody(body: Buffer, what: string): { mediaType?: string } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw garbage(what, `expected a JSON manifest, got "${body.toString('utf8', 0, 80).replace(/\s+/g, ' ')}"`);
    }
    if (!parsed || typeof parsed !== 'object' || (parsed as { schemaVersion?: unknown }).schemaVersion !== 2) {
      throw garbage(what, 'the JSON is not a schemaVersion 2 manifest or index');
    }
    return parsed as { mediaType?: string };
  }

  async function manifestGet(repo: string, ref: string): Promise<ManifestGetResult | 'not-found'> {
    const what = `GET manifest ${checkReferenceArg(ref)} from ${repo}`;
    const res = await send({
      method: 'GET',
      url: url(`${repoPath(repo)}/manifests/${ref}`),
      scopes: [pullScope(repo)],
      what,
      headers: { accept: ACCEPT_MANIFESTS },
    });
    if (res.status === 404) {
      await discard(res);
      return 'not-found';
    }
    if (res.status !== 200) throw await unexpected(res, what);
    const body = await readLimited(res, MAX_MANIFEST_BYTES, what);
    const parsed = checkManifestBody(body, what);
    const digest = isDigest(ref) && !ref.startsWith('sha256:') ? ref : sha256Digest(body);
    if (isDigest(ref) && ref !== digest) throw garbage(what, `the manifest hashes to ${digest}`);
    const answered = digestHeader(res, what);
    if (answered?.startsWith('sha256:') && answered !== digest) throw garbage(what, `Docker-Content-Digest ${answered} but the bytes hash to ${digest}`);
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    const mediaType = isManifestMediaType(contentType) ? contentType : parsed.mediaType ?? contentType;
    if (!mediaType) throw garbage(what, 'no media type in Content-Type or body');
    return { mediaType, digest, body };
  }

  async function manifestHead(repo: string, ref: string): Promise<ManifestHeadResult | 'not-found'> {
    const what = `HEAD manifest ${checkReferenceArg(ref)} in ${repo}`;
    const res = await send({
      method: 'HEAD',
      url: url(`${repoPath(repo)}/manifests/${ref}`),
      scopes: [pullScope(repo)],
      what,
      headers: { accept: ACCEPT_MANIFESTS },
    });
    await discard(res);
    if (res.status === 404) return 'not-found';
    if (res.status !== 200) throw await unexpected(res, what);
    const answered = digestHeader(res, what);
    if (isDigest(ref) && answered && answered !== ref) throw garbage(what, `it names digest ${answered}`);
    const digest = answered ?? (isDigest(ref) ? ref : undefined);
    const size = Number(res.headers.get('content-length'));
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    if (!digest || !Number.isSafeInteger(size) || !mediaType) {
      // Some registries omit headers on HEAD; the GET answer is authoritative.
      const full = await manifestGet(repo, ref);
      if (full === 'not-found') return full;
      return { mediaType: full.mediaType, digest: full.digest, size: full.body.length };
    }
    return { mediaType, digest, size };
  }

  async function manifestPut(repo: string, ref: string, body: Buffer, mediaType: string): Promise<{ digest: string }> {
    const what = `PUT manifest ${checkReferenceArg(ref)} to ${repo}`;
    const digest = sha256Digest(body);
    if (isDigest(ref) && ref !== digest) {
      throw new AurenError('input', `manifest bytes hash to ${digest}, not to the reference ${ref}`, 'Send the exact bytes the digest was computed from.');
    }
    if (body.length > MAX_MANIFEST_BYTES) {
      throw new AurenError('input', `manifest ${digest} is ${body.length} bytes; registries accept at most 4 MiB`);
    }
    const res = await send({
      method: 'PUT',
      url: url(`${repoPath(repo)}/manifests/${ref}`),
      scopes: [pushScope(repo)],
      what,
      headers: { 'content-type': mediaType, 'content-length': String(body.length) },
      body: () => body,
    });
    if (res.status !== 201) {
      const detail = await describeBody(res);
      const missing = /BLOB_UNKNOWN|MANIFEST_BLOB_UNKNOWN|MANIFEST_UNKNOWN/.test(detail);
      throw new AurenError(
        'registry',
        `registry ${registry} answered ${res.status} to ${what}${detail ? `: ${detail}` : ''}`,
        missing
          ? 'The registry lacks a blob or child manifest this manifest references; push the whole image (blobs first).'
          : res.status === 400
            ? `The registry rejected the manifest (media type ${mediaType}); check it is a valid OCI/Docker manifest.`
            : undefined,
      );
    }
    const answered = digestHeader(res, what);
    await discard(res);
    if (answered && answered !== digest) throw garbage(what, `it stored digest ${answered} for bytes that hash to ${digest}`);
    return { digest };
  }

  async function manifestDelete(repo: string, digest: string): Promise<'deleted' | 'not-found' | 'unsupported'> {
    const what = `DELETE manifest ${checkDigestArg(digest)} in ${repo}`;
    const res = await send({ method: 'DELETE', url: url(`${repoPath(repo)}/manifests/${digest}`), scopes: [deleteScope(repo)], what });
    const detail = res.status === 202 ? '' : await describeBody(res);
    await discard(res);
    if (res.status === 202 || res.status === 200) return 'deleted';
    if (res.status === 404) return 'not-found';
    // distribution answers 405 UNSUPPORTED when storage.delete is disabled.
    if (res.status === 405 || /UNSUPPORTED/.test(detail)) return 'unsupported';
    throw new AurenError('registry', `registry ${registry} answered ${res.status} to ${what}${detail ? `: ${detail}` : ''}`);
  }

  // ---------------------------------------------------------------- lists

  function nextLink(res: Response, current: string): string | undefined {
    const header = res.headers.get('link');
    if (!header) return undefined;
    for (const part of header.split(/,(?=\s*<)/)) {
      const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
      if (match && /(?:^|;)\s*rel="?next"?\s*(?:;|$)/i.test(match[2])) return new URL(match[1], current).toString();
    }
    return undefined;
  }

  async function paginate(first: string, scopes: Scope[], what: string, key: 'tags' | 'repositories', notFound: string[] | undefined): Promise<string[]> {
    const all: string[] = [];
    const seen = new Set<string>();
    let next: string | undefined = first;
    for (let page = 0; next; page++) {
      if (page >= MAX_PAGES || seen.has(next)) throw garbage(what, `pagination does not end (page ${page + 1}: ${next})`);
      seen.add(next);
      const res = await send({ method: 'GET', url: next, scopes, what, headers: { accept: 'application/json' } });
      if (res.status === 404 && notFound) {
        await discard(res);
        return notFound;
      }
      if (res.status !== 200) throw await unexpected(res, what);
      const body = await readJson<Record<string, unknown>>(res, what);
      const items = body?.[key];
      if (items !== null && items !== undefined && (!Array.isArray(items) || items.some((t) => typeof t !== 'string'))) {
        throw garbage(what, `"${key}" is not a list of strings`);
      }
      all.push(...((items as string[] | null) ?? []));
      const current: string = next;
      next = nextLink(res, current);
      if (next && new URL(next).origin !== new URL(current).origin) throw garbage(what, `Link points to another origin (${next})`);
    }
    return all;
  }

  async function tagList(repo: string, listOptions: ListOptions = {}): Promise<string[]> {
    const n = listOptions.pageSize ?? 1000;
    return paginate(url(`${repoPath(repo)}/tags/list?n=${n}`), [pullScope(repo)], `listing tags of ${repo}`, 'tags', []);
  }

  async function catalogList(listOptions: ListOptions = {}): Promise<string[]> {
    const n = listOptions.pageSize ?? 1000;
    return paginate(url(`/v2/_catalog?n=${n}`), [CATALOG_SCOPE], 'listing repositories', 'repositories', undefined);
  }

  async function ping(): Promise<PingResult> {
    const started = Date.now();
    const what = 'GET /v2/';
    const res = await send({ method: 'GET', url: url('/v2/'), scopes: [], what });
    if (res.status !== 200) {
      throw await unexpected(
        res,
        what,
        res.status === 404 ? `${baseUrl} does not serve the OCI distribution API; check the registry address.` : undefined,
      );
    }
    await discard(res);
    return { apiVersion: res.headers.get('docker-distribution-api-version') ?? undefined, latencyMs: Date.now() - started };
  }

  return {
    registry,
    baseUrl,
    ping,
    blobHead,
    blobUpload,
    blobMount,
    blobGet,
    blobGetRange,
    manifestGet,
    manifestHead,
    manifestPut,
    manifestDelete,
    tagList,
    catalogList,
  };
}

/** Bytes `start..end` (inclusive) of a stream that starts at byte 0; stops reading after `end`. */
function sliceStream(whole: Readable, start: number, end: number): Readable {
  let position = 0;
  const slice = new Transform({
    transform(chunk: Buffer, _enc, done) {
      const from = Math.max(0, start - position);
      const to = Math.min(chunk.length, end + 1 - position);
      position += chunk.length;
      if (to > from) this.push(chunk.subarray(from, to));
      if (position > end) {
        this.push(null);
        whole.destroy();
      }
      done();
    },
  });
  whole.on('error', (error) => slice.destroy(error));
  return whole.pipe(slice);
}
