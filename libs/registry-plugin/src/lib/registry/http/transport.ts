import { Readable } from 'node:stream';
import { fetch, request, Headers, Response, type Dispatcher } from 'undici';
import { AurenError } from '../../errors/errors';
import { redactText } from '../../errors/redact';
import type { Authenticator, Scope } from '../auth/types';
import { isLoopbackRegistry } from '../reference';
import { createAnswers, discard, type Answers } from './answers';
import { localFailure, NetworkFailure, networkFailure, RETRYABLE_CODES, speaksPlainHttp, TLS_CODES } from './failures';
import { backoff, isRetryableStatus, retryAfterMs, sleep, type RetryOptions } from './retry';

/**
 * The HTTP layer under every resource module (regclient's `internal/reghttp` in spirit): one
 * `send` with auth challenges, retries with backoff, redirects that never carry credentials to
 * another origin, and the scheme decision for loopback registries.
 */
export interface TransportOptions {
  registry: string;
  /** Host the API is reached at (registry-1.docker.io for docker.io). */
  apiHost: string;
  /** true: plain HTTP; false: HTTPS; undefined: HTTPS, or plain HTTP for a loopback host that does not speak TLS. */
  insecure: boolean | undefined;
  authenticator?: Authenticator;
  dispatcher?: Dispatcher;
  retry: RetryOptions;
  userAgent: string;
  requestTimeoutMs: number;
  onRequest?: (method: string, url: string, status: number) => void;
}

export interface RequestSpec {
  method: string;
  /** An absolute URL (upload sessions, `Link` pages) or a path such as `/v2/…`. */
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

export interface Transport extends Answers {
  readonly registry: string;
  /** `http(s)://host[:port]`; for a loopback registry not contacted yet, its likely scheme. */
  readonly baseUrl: string;
  readonly retry: RetryOptions;
  /** One request with auth and retries: any HTTP answer except 401/403 and exhausted 5xx/429 (typed errors). */
  send(spec: RequestSpec): Promise<Response>;
  /** A connection failure as the error the user sees. */
  unreachable(failure: NetworkFailure, what: string, attempts: number): AurenError;
}

export const LOGIN_HINT = 'Set AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD or run `nx run registry:login`.';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

export function createTransport(options: TransportOptions): Transport {
  const { registry, apiHost, authenticator, retry } = options;
  const loopback = isLoopbackRegistry(registry);
  // Docker and containers/image: HTTPS first, plain HTTP only when the server does not speak
  // TLS, and only for loopback or configured-insecure hosts. Decided on first contact, per client.
  let scheme: 'http' | 'https' | undefined = options.insecure === undefined ? (loopback ? undefined : 'https') : options.insecure ? 'http' : 'https';
  const baseUrl = () => `${scheme ?? 'http'}://${apiHost}`;
  const redact = (text: string) => redactText(text, authenticator?.secrets() ?? []);
  const answers = createAnswers({ registry, baseUrl, redact });

  function unreachable(failure: NetworkFailure, what: string, attempts: number): AurenError {
    const tried = attempts > 1 ? ` after ${attempts} attempts` : '';
    if (TLS_CODES.test(failure.code)) {
      return new AurenError(
        'registry',
        `TLS with registry ${registry} failed (${failure.code}) on ${what}`,
        options.insecure
          ? 'The registry may not speak plain HTTP; remove it from insecureRegistries.'
          : "Trust the registry's CA with `caFile` in nx.json (or NODE_EXTRA_CA_CERTS), or add it to `insecureRegistries` if it serves plain HTTP.",
        { cause: failure.original },
      );
    }
    const hint = loopback
      ? 'Start it with `nx run registry:serve` or set AUREN_REGISTRY.'
      : 'Check the address, DNS and network (proxy, firewall) or set AUREN_REGISTRY.';
    return new AurenError('registry', `registry ${registry} is not reachable (${failure.code})${tried} on ${what}`, hint, { cause: failure.original });
  }

  /**
   * A streamed body (a blob or a chunk of one) goes out through undici's `request`, which writes
   * the stream's chunks to the socket as they are; `fetch` would copy each chunk into a new array
   * first, doubling the memory a push holds until V8 collects it. The answers to uploads are small
   * (distribution sends an empty body or an error document), so the body is read here and the
   * rest of the transport sees the same `Response` as for any request.
   */
  async function sendStream(url: string, method: string, headers: Record<string, string>, body: Readable, signal: AbortSignal): Promise<Response> {
    const res = await request(url, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher: options.dispatcher, signal });
    const text = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode < 200 || res.statusCode > 599) {
      throw new AurenError('registry', `registry ${registry} answered an invalid HTTP status (${res.statusCode}) to ${method} ${new URL(url).pathname}`, 'The registry or a proxy in front of it is misbehaving; check its logs.');
    }
    const answerHeaders = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) answerHeaders.append(name, one);
    }
    const empty = [101, 204, 205, 304].includes(res.statusCode) || method === 'HEAD' || text.length === 0;
    return new Response(empty ? null : text, { status: res.statusCode, headers: answerHeaders });
  }

  /** One HTTP exchange, following redirects by hand so `Authorization` stays with its origin. */
  async function exchangeAt(spec: RequestSpec, target: string, authorization: string | undefined): Promise<Response> {
    let url = target;
    let method = spec.method;
    let withBody = true;
    const origin = new URL(target).origin;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': options.userAgent, 'accept-encoding': 'identity', ...spec.headers };
      // Storage backends and CDNs (S3, GCS, DOCR's Spaces, GHCR's blob host) get signed URLs,
      // never the registry's credentials (as the Fetch standard and docker do).
      if (authorization && new URL(url).origin === origin) headers.authorization = authorization;
      if (!withBody) delete headers['content-length'];
      const body = withBody ? spec.body?.() : undefined;
      const controller = new AbortController();
      // Bodies can take long to send; only body-less requests get a deadline for the answer.
      const timer = body === undefined ? setTimeout(() => controller.abort(), options.requestTimeoutMs) : undefined;
      let res: Response;
      try {
        res = body instanceof Readable ? await sendStream(url, method, headers, body, controller.signal) : await fetch(url, {
          method,
          headers,
          body: body instanceof Readable ? (body as unknown as AsyncIterable<Uint8Array>) : body,
          duplex: body instanceof Readable ? 'half' : undefined,
          dispatcher: options.dispatcher,
          redirect: 'manual',
          signal: controller.signal,
        } as Parameters<typeof fetch>[1]);
        // An early answer (401, 5xx) can leave the body half read; close its file now.
        if (body instanceof Readable && !body.readableEnded) body.destroy();
      } catch (error) {
        if (body instanceof Readable) body.destroy();
        throw error;
      } finally {
        if (timer) clearTimeout(timer);
      }
      const next = REDIRECTS.has(res.status) ? res.headers.get('location') : null;
      if (!next || hop >= MAX_REDIRECTS) return res;
      await discard(res);
      url = new URL(next, url).toString();
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        withBody = false;
      }
    }
  }

  async function exchange(spec: RequestSpec, authorization: string | undefined): Promise<Response> {
    const absolute = /^https?:\/\//.test(spec.url);
    const trying = scheme ?? 'https';
    const target = absolute ? spec.url : `${trying}://${apiHost}${spec.url}`;
    const probing = !absolute && scheme === undefined;
    try {
      const res = await exchangeAt(spec, target, authorization);
      if (probing) scheme = 'https';
      options.onRequest?.(spec.method, target, res.status);
      return res;
    } catch (error) {
      // Requests in flight together may all be probing; each one falls back on its own evidence.
      if (probing && scheme !== 'https' && speaksPlainHttp(error)) {
        // Nothing reached the server as HTTP: sending again in plain HTTP has no side effect.
        scheme = 'http';
        return exchange(spec, authorization);
      }
      if (probing && TLS_CODES.test(networkFailure(error)?.code ?? '')) scheme = 'https';
      options.onRequest?.(spec.method, target, 0);
      throw error;
    }
  }

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
        const delay = backoff(retry, attempt);
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
        throw new AurenError('auth', `registry ${registry} refused ${spec.what} (401 unauthorized${authorization ? ', credentials rejected' : ''})`, LOGIN_HINT);
      }
      if (res.status === 403) {
        const detail = await answers.describeBody(res);
        throw new AurenError(
          'auth',
          `registry ${registry} denied ${spec.what} (403 forbidden)${detail ? `: ${detail}` : ''}`,
          `The credentials lack ${spec.scopes.join(' ') || 'access'}; use an account or token with that permission, or ${LOGIN_HINT.replace(/^Set/, 'set')}`,
        );
      }
      if (isRetryableStatus(res.status)) {
        const delay = Math.max(retryAfterMs(res) ?? 0, backoff(retry, attempt));
        if (canRetry && attempt < retry.attempts && Date.now() - started + delay < retry.deadlineMs) {
          await discard(res);
          await sleep(delay);
          continue;
        }
        if (!canRetry) return res;
        const why =
          res.status === 429
            ? 'The registry is rate-limiting; retry later, lower push concurrency, or authenticate for a higher limit.'
            : 'The registry is failing; check its logs or status page and retry.';
        const base = await answers.unexpected(res, spec.what, why);
        throw new AurenError('registry', `${base.message} (gave up after ${attempt} attempt${attempt > 1 ? 's' : ''})`, base.hint);
      }
      return res;
    }
  }

  return {
    ...answers,
    registry,
    get baseUrl() {
      return baseUrl();
    },
    retry,
    send,
    unreachable,
  };
}
