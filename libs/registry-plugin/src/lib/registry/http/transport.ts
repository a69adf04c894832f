import { Readable } from 'node:stream';
import { fetch, request, Headers, Response, type Dispatcher } from 'undici';
import { AurenError } from '../../errors/errors';
import { redactText } from '../../errors/redact';
import type { Authenticator, Scope } from '../auth/types';
import { isLoopbackRegistry } from '../reference';
import { createAnswers, discard, type Answers } from './answers';
import { guardBody, type BodyLimits } from './body-guard';
import { localFailure, NetworkFailure, networkFailure, RETRYABLE_CODES, speaksPlainHttp, TLS_CODES } from './failures';
import { backoff, isRetryableStatus, retryAfterMs, sleep, type RetryOptions } from './retry';

/**
 * The HTTP layer under every resource module (regclient's `internal/reghttp` in spirit): one
 * `send` with auth challenges, retries with backoff, redirects, time bounds on every body, and
 * the scheme decision for loopback registries.
 *
 * Credentials belong to the registry's origin (scheme, host and port) and to nothing else, as
 * docker's distribution client keys its authorizers by the endpoint that sent the challenge:
 * - a redirect, an upload `Location` or a `Link` on another origin is used without them
 *   (storage backends and CDNs get signed URLs: S3, GCS, DOCR's Spaces, GHCR's blob host);
 * - a 401 from another origin is never answered with them, and its realm is never asked for a
 *   token (a redirect target could otherwise name its own realm and collect the password);
 * - after HTTPS, nothing continues over plain HTTP: a redirect or `Location` to `http://` is
 *   refused outright, since even without credentials it would move image bytes in clear.
 * containers/image attaches its credentials to whatever URL an upload `Location` names; that
 * is the behaviour refused here.
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
  /** Time allowed for the answer's headers once the request (and its body) is sent. */
  requestTimeoutMs: number;
  /** Idle and low-speed limits on reading every answer's body. */
  bodyLimits: BodyLimits;
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
  let probeInFlight: Promise<void> | undefined;
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

  /** Answers to uploads are an empty body or an error document; more than this is not read. */
  const MAX_UPLOAD_ANSWER_BYTES = 1024 * 1024;

  /**
   * A streamed body (a blob or a chunk of one) goes out through undici's `request`, which writes
   * the stream's chunks to the socket as they are; `fetch` would copy each chunk into a new array
   * first, doubling the memory a push holds until V8 collects it. The answers to uploads are small
   * (distribution sends an empty body or an error document), so the body is read here, up to a
   * cap, and the rest of the transport sees the same `Response` as for any request.
   */
  async function sendStream(url: string, method: string, headers: Record<string, string>, body: Readable, signal: AbortSignal): Promise<Response> {
    const res = await request(url, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher: options.dispatcher, signal });
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      total += (chunk as Buffer).length;
      if (total > MAX_UPLOAD_ANSWER_BYTES) {
        res.body.destroy();
        throw answers.garbage(`${method} ${new URL(url).pathname}`, `an answer of more than ${MAX_UPLOAD_ANSWER_BYTES} bytes to an upload`);
      }
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks);
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

  function downgrade(what: string, home: string, url: string): AurenError {
    return new AurenError(
      'registry',
      `registry ${registry} (${home}) sent ${what} on to plain HTTP (${new URL(url).origin}); refusing to continue over plain HTTP after HTTPS`,
      'A registry reached over HTTPS must keep its uploads, redirects and token service on HTTPS; check its storage redirect and `Location` settings.',
    );
  }

  const stalled = (what: string) => (problem: string) =>
    new AurenError('registry', `registry ${registry} stalled on ${what}: ${problem}`, 'The registry or the network is stuck or far too slow; retry, and check the registry health.');

  /**
   * One HTTP exchange, following redirects by hand so `Authorization` goes to `home` (the
   * registry's origin) only. Returns the answer and the URL that gave it.
   */
  async function exchangeAt(spec: RequestSpec, target: string, home: string, authorization: string | undefined): Promise<{ res: Response; url: string }> {
    let url = target;
    let method = spec.method;
    let withBody = true;
    const secureHome = home.startsWith('https:');
    for (let hop = 0; ; hop++) {
      if (secureHome && url.startsWith('http:')) throw downgrade(spec.what, home, url);
      const headers: Record<string, string> = { 'user-agent': options.userAgent, 'accept-encoding': 'identity', ...spec.headers };
      if (authorization && new URL(url).origin === home) headers.authorization = authorization;
      if (!withBody) delete headers['content-length'];
      const body = withBody ? spec.body?.() : undefined;
      const controller = new AbortController();
      // The answer's headers are due `requestTimeoutMs` after the request is out: at once for
      // a request without a body, once a streamed body has been read to its end, and after the
      // time a buffered body needs at the lowest speed allowed.
      let timer: NodeJS.Timeout | undefined;
      let answered = false;
      const arm = (ms: number) => {
        if (!answered) timer = setTimeout(() => controller.abort(), ms);
      };
      if (body === undefined) arm(options.requestTimeoutMs);
      else if (body instanceof Readable) body.once('end', () => arm(options.requestTimeoutMs));
      else arm(options.requestTimeoutMs + Math.ceil((body.length * 1000) / options.bodyLimits.lowSpeed.bytesPerSecond));
      let res: Response;
      try {
        res = body instanceof Readable ? await sendStream(url, method, headers, body, controller.signal) : await fetch(url, {
          method,
          headers,
          body,
          dispatcher: options.dispatcher,
          redirect: 'manual',
          signal: controller.signal,
        } as Parameters<typeof fetch>[1]);
        // An early answer (401, 5xx) can leave the body half read; close its file now.
        if (body instanceof Readable && !body.readableEnded) body.destroy();
      } catch (error) {
        if (body instanceof Readable) {
          // The body's own failure (a source blob that overran its size, in a copy) is the
          // story, not the length mismatch undici reports for it.
          if (body.errored instanceof AurenError) throw body.errored;
          body.destroy();
        }
        throw error;
      } finally {
        answered = true;
        if (timer) clearTimeout(timer);
      }
      res = guardBody(res, options.bodyLimits, stalled(spec.what), () => controller.abort());
      const next = REDIRECTS.has(res.status) ? res.headers.get('location') : null;
      if (!next || hop >= MAX_REDIRECTS) return { res, url };
      await discard(res);
      let resolved: URL;
      try {
        resolved = new URL(next, url);
      } catch {
        throw answers.garbage(spec.what, `a redirect to something that is not a URL (${JSON.stringify(redact(next).slice(0, 160))})`);
      }
      if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:') throw answers.garbage(spec.what, `a redirect to ${resolved.protocol}`);
      url = resolved.toString();
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        withBody = false;
      }
    }
  }

  async function exchange(spec: RequestSpec, authorization: string | undefined): Promise<{ res: Response; url: string; home: string }> {
    const absolute = /^https?:\/\//.test(spec.url);
    // One request finds out how the registry speaks; requests sent meanwhile wait for its answer
    // instead of each trying TLS on a connection of its own.
    if (!absolute && scheme === undefined && probeInFlight) await probeInFlight;
    const trying = scheme ?? 'https';
    const target = absolute ? spec.url : `${trying}://${apiHost}${spec.url}`;
    // An absolute URL (upload Location, Link page) came from an answer, so the scheme is known.
    const home = new URL(`${trying}://${apiHost}`).origin;
    const probing = !absolute && scheme === undefined;
    let probed: (() => void) | undefined;
    if (probing && !probeInFlight) probeInFlight = new Promise<void>((resolve) => (probed = resolve));
    try {
      const { res, url } = await exchangeAt(spec, target, home, authorization);
      if (probing) scheme = 'https';
      options.onRequest?.(spec.method, target, res.status);
      return { res, url, home };
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
    } finally {
      // Settled with or without an answer: a waiting request that still finds no scheme probes
      // on its own evidence.
      if (probed) {
        probeInFlight = undefined;
        probed();
      }
    }
  }

  async function send(spec: RequestSpec): Promise<Response> {
    const started = Date.now();
    const canRetry = spec.retry !== false;
    let authorization = authenticator?.cached(registry, spec.scopes);
    let authorized = false;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      let answeredBy: string;
      let home: string;
      try {
        ({ res, url: answeredBy, home } = await exchange(spec, authorization));
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
        const from = new URL(answeredBy).origin;
        if (from !== home) {
          throw new AurenError(
            'auth',
            `${from} answered 401 to ${spec.what} after registry ${registry} sent the request there; the registry's credentials are only sent to ${home}`,
            'A registry that hands blobs or uploads to another host must give it URLs that need no credentials (signed URLs); check the registry storage settings.',
          );
        }
        if (authenticator && challenge && !authorized) {
          authorized = true;
          authorization = await authenticator.authorize(registry, challenge, spec.scopes, { origin: home });
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
