import type { Response } from 'undici';
import { AurenError } from '../errors/errors';
import { redactText } from '../exec/exec';
import type { AdapterOptions } from './types';

/**
 * The JSON-over-HTTPS transport shared by the provider adapters: bearer auth, same-origin
 * pagination, rate limits, and error messages that are redacted before anyone sees them.
 */

/** A provider's rate limit was hit; the run stopped cleanly and can resume after `resumeAt`. */
export class ProviderRateLimitError extends AurenError {
  readonly resumeAt: Date;
  /** Where a paginated listing stopped: pass it back as `cursor` to continue. */
  readonly cursor: string | undefined;
  readonly provider: string;
  constructor(provider: string, what: string, resumeAt: Date, now: number, cursor?: string) {
    const minutes = Math.max(1, Math.ceil((resumeAt.getTime() - now) / 60_000));
    super(
      'registry',
      `${provider} rate limit reached on ${what}; resume after ${resumeAt.toISOString()} (in about ${minutes} min)`,
      cursor
        ? `Run the same command again after that time; to continue where this run stopped, resume from cursor ${cursor}`
        : 'Run the same command again after that time; nothing was left half done.',
    );
    this.name = 'ProviderRateLimitError';
    this.resumeAt = resumeAt;
    this.cursor = cursor;
    this.provider = provider;
  }
}

export interface RateLimitState {
  remaining: number | undefined;
  /** Epoch ms when the window resets. */
  resetAt: number | undefined;
  /** Epoch ms from `Retry-After`. */
  retryAt: number | undefined;
}

/**
 * DigitalOcean sends `ratelimit-remaining` / `ratelimit-reset` (epoch seconds), GitHub and
 * Docker Hub `x-ratelimit-remaining` / `x-ratelimit-reset` (epoch seconds); all may send
 * `retry-after` (seconds or an HTTP date) with a 429 or a secondary-limit 403.
 */
export function readRateLimit(headers: { get(name: string): string | null }, now: number): RateLimitState {
  const pick = (...names: string[]): string | undefined =>
    names.map((n) => headers.get(n) ?? undefined).find((v): v is string => v !== undefined && v !== '');
  const remainingText = pick('ratelimit-remaining', 'x-ratelimit-remaining');
  const resetText = pick('ratelimit-reset', 'x-ratelimit-reset');
  const retryText = pick('retry-after');
  const remaining = remainingText !== undefined && /^\d+/.test(remainingText) ? parseInt(remainingText, 10) : undefined;
  let resetAt: number | undefined;
  if (resetText !== undefined && /^\d+$/.test(resetText.trim())) {
    const value = Number(resetText.trim());
    // Epoch seconds are > 1e9; a small number is "seconds from now" (draft RateLimit headers).
    resetAt = value > 1e9 ? value * 1000 : now + value * 1000;
  }
  let retryAt: number | undefined;
  if (retryText !== undefined) {
    if (/^\d+$/.test(retryText.trim())) retryAt = now + Number(retryText.trim()) * 1000;
    else if (!Number.isNaN(Date.parse(retryText))) retryAt = Date.parse(retryText);
  }
  return { remaining, resetAt, retryAt };
}

export interface ApiRequest {
  method: string;
  /** Path on the API origin, or an absolute URL of the same origin (pagination links). */
  url: string;
  /** For messages: "listing tags of auren/api". */
  what: string;
  body?: unknown;
  /** Statuses handed back to the caller instead of raising (e.g. 404, 409). */
  allow?: number[];
  /** Resume point to put in a rate-limit error (the URL of this page, for listings). */
  cursor?: string;
  /** Skip the Authorization header (login endpoints). */
  anonymous?: boolean;
}

export interface ApiResponse<T = unknown> {
  status: number;
  url: string;
  headers: { get(name: string): string | null };
  body: T | undefined;
}

export interface ApiClientConfig extends AdapterOptions {
  /** "DigitalOcean API", "GitHub API", "Docker Hub API". */
  provider: string;
  /** The Authorization header value; resolved lazily so a missing token fails only when used. */
  authorization: () => Promise<string>;
  /** Everything to redact from messages and logs. */
  secrets: () => string[];
  /** Hint for a 401 (which variable to set). */
  authHint: string;
  headers?: Record<string, string>;
  /** Called once on 401 so a short-lived JWT can be renewed; true means "retry". */
  onUnauthorized?: () => Promise<boolean>;
}

export interface ApiClient {
  request<T>(req: ApiRequest): Promise<ApiResponse<T>>;
  /** Resolve a pagination link, refusing to send our token to another origin. */
  sameOrigin(link: string, what: string): string;
  readonly origin: string;
}

/** What an API client with a static token needs; the token stays `undefined` until someone sets it. */
export interface TokenApiOptions extends AdapterOptions {
  registry: string;
  token: string | undefined;
}

/**
 * An API client whose static token is sent as a Bearer header (DigitalOcean, GitHub): redacted
 * from every message, and a missing token fails only when a request needs it, naming `tokenName`
 * and, in `hint`, the variable to set.
 */
export function createTokenApiClient(
  options: TokenApiOptions,
  api: { provider: string; tokenName: string; hint: string; headers?: Record<string, string> },
): ApiClient {
  const { token, registry } = options;
  return createApiClient({
    ...options,
    provider: api.provider,
    authHint: api.hint,
    headers: api.headers,
    secrets: () => (token ? [token] : []),
    authorization: async () => {
      if (!token) throw new AurenError('auth', `no ${api.tokenName} for ${registry}`, api.hint);
      return `Bearer ${token}`;
    },
  });
}

const MAX_RATE_LIMIT_RETRIES = 3;
const SERVER_RETRIES = 2;

export function createApiClient(config: ApiClientConfig): ApiClient {
  const origin = new URL(config.baseUrl).origin;
  let blockedUntil = 0;
  const redact = (text: string) => redactText(text, config.secrets());

  const sameOrigin = (link: string, what: string): string => {
    const url = new URL(link, origin);
    if (url.origin !== origin) {
      throw new AurenError(
        'registry',
        `${config.provider} sent a pagination link to another origin (${url.origin}) while ${what}; not following it`,
        'This is not expected from the provider; report it and check for a proxy rewriting responses.',
      );
    }
    return url.toString();
  };

  const waitOrStop = async (until: number, what: string, cursor: string | undefined): Promise<void> => {
    const wait = until - config.now();
    if (wait <= 0) return;
    if (wait > config.maxRateLimitWaitMs) {
      config.log(`${config.provider}: rate limited until ${new Date(until).toISOString()}, stopping`);
      throw new ProviderRateLimitError(config.provider, what, new Date(until), config.now(), cursor);
    }
    config.log(`${config.provider}: rate limited, waiting ${Math.ceil(wait / 1000)} s`);
    await config.sleep(wait);
  };

  async function detail(res: Response): Promise<string> {
    const text = await res.text().catch(() => '');
    let message = '';
    try {
      const body = JSON.parse(text) as { message?: unknown; detail?: unknown; id?: unknown; errors?: Array<{ message?: string }> };
      message = String(body.message ?? body.detail ?? body.errors?.[0]?.message ?? body.id ?? '');
    } catch {
      message = text;
    }
    message = redact(message).replace(/\s+/g, ' ').trim().slice(0, 200);
    return message ? `: ${message}` : '';
  }

  async function request<T>(req: ApiRequest): Promise<ApiResponse<T>> {
    const url = sameOrigin(req.url, req.what);
    const path = new URL(url).pathname + new URL(url).search;
    let rateRetries = 0;
    let serverRetries = 0;
    let renewed = false;
    for (;;) {
      if (blockedUntil) await waitOrStop(blockedUntil, req.what, req.cursor);
      const headers: Record<string, string> = {
        accept: 'application/json',
        'user-agent': 'auren-registry-plugin',
        ...config.headers,
      };
      if (!req.anonymous) headers.authorization = await config.authorization();
      if (req.body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await config.fetch(url, {
          method: req.method,
          headers,
          body: req.body === undefined ? undefined : JSON.stringify(req.body),
          redirect: 'error',
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        const reason = cause?.code ?? cause?.message ?? (error as Error).message;
        config.log(`${req.method} ${path} → network error`);
        throw new AurenError(
          'registry',
          `cannot reach the ${config.provider} at ${origin} while ${req.what}: ${redact(String(reason))}`,
          'Check the network (proxy, firewall, DNS) and retry.',
          { cause: error },
        );
      }
      config.log(`${req.method} ${path} → ${res.status}`);
      const now = config.now();
      const rate = readRateLimit(res.headers, now);
      // Remaining 0 on a success: this answer is good, the next request would be refused.
      blockedUntil = rate.remaining === 0 && rate.resetAt && rate.resetAt > now ? rate.resetAt : 0;

      const limited = res.status === 429 || (res.status === 403 && (rate.remaining === 0 || rate.retryAt !== undefined));
      if (limited) {
        await res.arrayBuffer().catch(() => undefined);
        // GitHub: "wait until the time specified by x-ratelimit-reset" unless retry-after says otherwise.
        const until = rate.retryAt ?? rate.resetAt ?? now + 60_000;
        if (++rateRetries > MAX_RATE_LIMIT_RETRIES || until - now > config.maxRateLimitWaitMs) {
          throw new ProviderRateLimitError(config.provider, req.what, new Date(Math.max(until, now)), now, req.cursor);
        }
        blockedUntil = 0;
        await waitOrStop(until, req.what, req.cursor);
        continue;
      }
      if (req.allow?.includes(res.status)) return parse<T>(res, url);
      if (res.status === 401) {
        await res.arrayBuffer().catch(() => undefined);
        if (config.onUnauthorized && !renewed && (await config.onUnauthorized())) {
          renewed = true;
          continue;
        }
        throw new AurenError('auth', `${config.provider} refused the token (401) while ${req.what}`, config.authHint);
      }
      if (res.status === 403) {
        throw new AurenError(
          'auth',
          `${config.provider} denied ${req.what} (403)${await detail(res)}`,
          'The token lacks the permission for this operation; see the provider documentation for the scopes it needs.',
        );
      }
      if (res.status >= 500 && serverRetries < SERVER_RETRIES) {
        await res.arrayBuffer().catch(() => undefined);
        serverRetries++;
        await config.sleep(500 * 2 ** serverRetries);
        continue;
      }
      if (res.status < 200 || res.status >= 300) {
        throw new AurenError(
          'registry',
          `${config.provider} answered ${res.status} while ${req.what}${await detail(res)}`,
          res.status >= 500 ? 'The provider is failing; check its status page and retry later.' : undefined,
        );
      }
      return parse<T>(res, url);
    }
  }

  async function parse<T>(res: Response, url: string): Promise<ApiResponse<T>> {
    const text = await res.text();
    let body: T | undefined;
    if (text.trim()) {
      try {
        body = JSON.parse(text) as T;
      } catch {
        body = undefined;
      }
    }
    return { status: res.status, url, headers: res.headers, body };
  }

  return { request, sameOrigin, origin };
}

/** RFC 8288 `Link` header: the `rel="next"` target (GitHub pagination). */
export function nextLinkFromHeader(value: string | null): string | undefined {
  if (!value) return undefined;
  for (const part of value.split(',')) {
    const match = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (match && /\brel="?([^";]*\s)?next(\s[^";]*)?"?/.test(match[2])) return match[1];
  }
  return undefined;
}

/** Repository path with `/` encoded as `%2F`, as DigitalOcean and GitHub require for nested names. */
export const encodeName = (name: string): string => encodeURIComponent(name);
