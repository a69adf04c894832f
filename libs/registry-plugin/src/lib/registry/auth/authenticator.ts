import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { AurenError } from '../../errors/errors';
import { redactText } from '../../errors/redact';
import { normalizeScopes, parseChallenges, scopesCover, type Challenge } from './challenge';
import { resolveCredentials, type ResolvedCredentials } from './credentials';
import { registryHost } from './docker-config';
import type { Authenticator, ChallengeContext, CredentialHelpers, Credentials, Scope } from './types';

export type CredentialsSource =
  | Credentials
  | ResolvedCredentials
  | ((registry: string) => Promise<Credentials | ResolvedCredentials | undefined>);

export interface AuthenticatorOptions {
  env?: NodeJS.ProcessEnv;
  /** Folder with config.json (default $DOCKER_CONFIG, else ~/.docker). */
  dockerConfigDir?: string;
  /**
   * Fixed credentials for every registry, or a resolver. Default: `resolveCredentials`
   * (environment, then docker config.json and credential helpers), once per registry.
   */
  credentials?: CredentialsSource;
  /** Runs credential helpers for the default resolver (`credentialHelpers` from exec/credential-helpers). */
  helpers?: CredentialHelpers;
  fetch?: typeof undiciFetch;
  /** Dispatcher for token-service requests (custom CA trust); a function picks one per realm origin. */
  dispatcher?: Dispatcher | ((origin: string) => Dispatcher | undefined);
  /** Clock in ms (tests). */
  now?: () => number;
  userAgent?: string;
  /** OAuth2 `client_id` for identity-token requests. */
  clientId?: string;
  /** Deadline for one token request, answer included. Default 60 s. */
  tokenTimeoutMs?: number;
}

/** containers/image's `MaxAuthTokenBodySize`: a token answer is small JSON. */
const MAX_TOKEN_ANSWER_BYTES = 1024 * 1024;

async function readTokenAnswer(response: Awaited<ReturnType<typeof undiciFetch>>, origin: string, registry: string, timeoutMs: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
      total += chunk.length;
      if (total > MAX_TOKEN_ANSWER_BYTES) {
        await response.body?.cancel().catch(() => undefined);
        throw new AurenError('auth', `token service ${origin} for ${registry} sent more than ${MAX_TOKEN_ANSWER_BYTES} bytes`, 'The token service is misbehaving; check the registry configuration.');
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (error) {
    if (error instanceof AurenError) throw error;
    throw new AurenError('auth', `token service ${origin} for ${registry} did not finish its answer within ${timeoutMs} ms`, 'Retry; if it persists, check the token service.', { cause: error });
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Per the token spec: "When omitted, this defaults to 60 seconds". */
const DEFAULT_EXPIRES_IN_S = 60;
/** Renew early so a token never expires between `cached()` and the registry checking it. */
const MAX_MARGIN_S = 30;

interface CachedToken {
  scopes: Scope[];
  header: string;
  expiresAt: number;
}

export const LOGIN_HINT =
  'Set AUREN_REGISTRY_USERNAME and AUREN_REGISTRY_PASSWORD (or the provider token variable), or run `nx run registry:login`.';

export function basicHeader(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

export function createAuthenticator(options: AuthenticatorOptions = {}): Authenticator {
  const env = options.env ?? process.env;
  const doFetch = options.fetch ?? undiciFetch;
  const now = options.now ?? Date.now;
  const userAgent = options.userAgent ?? 'auren-registry-plugin';
  const clientId = options.clientId ?? 'auren-registry-plugin';
  const tokenTimeoutMs = options.tokenTimeoutMs ?? 60_000;
  const secrets = new Set<string>();
  const credentialCache = new Map<string, Promise<ResolvedCredentials | undefined>>();
  const basicByRegistry = new Map<string, string>();
  const tokens = new Map<string, CachedToken[]>();
  const inFlight = new Map<string, Promise<string>>();

  const remember = (...values: (string | undefined)[]) => {
    for (const v of values) if (v) secrets.add(v);
  };

  const credentialsFor = (registry: string): Promise<ResolvedCredentials | undefined> => {
    const host = registryHost(registry);
    let pending = credentialCache.get(host);
    if (!pending) {
      const source = options.credentials;
      const lookup: Promise<Credentials | ResolvedCredentials | undefined> =
        typeof source === 'function'
          ? source(registry)
          : source
            ? Promise.resolve(source)
            : resolveCredentials(registry, { env, dockerConfigDir: options.dockerConfigDir, helpers: options.helpers });
      pending = lookup.then((found) => {
        if (!found) return undefined;
        const resolved: ResolvedCredentials = { source: 'the configured credentials', ...found };
        remember(resolved.password, resolved.identityToken, basicHeader(resolved).slice('Basic '.length));
        return resolved;
      });
      // A failed lookup (bad config.json, broken helper) is retried next time, not cached.
      pending.catch(() => credentialCache.delete(host));
      credentialCache.set(host, pending);
    }
    return pending;
  };

  const dispatcherFor = (url: URL): Dispatcher | undefined =>
    typeof options.dispatcher === 'function' ? options.dispatcher(url.origin) : options.dispatcher;

  const fetchToken = async (registry: string, challenge: Challenge, scopes: Scope[], context: ChallengeContext | undefined): Promise<string> => {
    const realm = challenge.params.realm;
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm ?? '');
      if (realmUrl.protocol !== 'https:' && realmUrl.protocol !== 'http:') throw new Error('scheme');
    } catch {
      throw new AurenError(
        'auth',
        `registry ${registry} sent a Bearer challenge without a usable realm (${JSON.stringify(realm ?? '')})`,
        'The registry or its token service is misconfigured; check its `auth.token.realm` setting.',
      );
    }
    // A password or refresh token sent to a cleartext realm is handed to anyone on the path;
    // a registry reached over HTTPS does not get to name one.
    if (context?.origin.startsWith('https:') && realmUrl.protocol === 'http:') {
      throw new AurenError(
        'auth',
        `registry ${registry} (${context.origin}) named a token service on plain HTTP (${realmUrl.origin}); refusing to send credentials or ask for a token in clear`,
        'The registry or its token service is misconfigured: its `auth.token.realm` must be an https:// URL.',
      );
    }
    const credentials = await credentialsFor(registry);
    const service = challenge.params.service;
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': userAgent };
    let response: Awaited<ReturnType<typeof undiciFetch>>;
    const who = credentials ? `the credentials from ${credentials.source}` : 'anonymous access';
    try {
      if (credentials?.identityToken) {
        // OAuth2 refresh-token grant (distribution docs: "OAuth2 Token Authentication").
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: clientId });
        if (service) form.set('service', service);
        if (scopes.length) form.set('scope', scopes.join(' '));
        response = await doFetch(realmUrl, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
          dispatcher: dispatcherFor(realmUrl),
          // A 307/308 would send the refresh token in the body to wherever it points.
          redirect: 'error',
          signal: AbortSignal.timeout(tokenTimeoutMs),
        });
      } else {
        const url = new URL(realmUrl);
        if (service) url.searchParams.set('service', service);
        for (const scope of scopes) url.searchParams.append('scope', scope);
        if (credentials) headers.authorization = basicHeader(credentials);
        // undici drops Authorization on a cross-origin redirect (Fetch standard), so a realm
        // that redirects elsewhere gets no password there.
        response = await doFetch(url, { headers, dispatcher: dispatcherFor(url), signal: AbortSignal.timeout(tokenTimeoutMs) });
      }
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new AurenError(
        'auth',
        `cannot reach the token service of ${registry} at ${realmUrl.origin}: ${redactText(String(reason), [...secrets])}`,
        'Check the network and the registry address; for a private CA set `caFile` or put ca.crt in certs.d.',
        { cause: error },
      );
    }

    const text = await readTokenAnswer(response, realmUrl.origin, registry, tokenTimeoutMs);
    if (response.status === 401 || response.status === 403) {
      throw new AurenError(
        'auth',
        `registry ${registry} refused ${who} (token service ${realmUrl.origin} answered ${response.status}${detail(text, secrets)})`,
        LOGIN_HINT,
      );
    }
    if (!response.ok) {
      throw new AurenError(
        'auth',
        `token service ${realmUrl.origin} for ${registry} answered ${response.status}${detail(text, secrets)}`,
        'The registry token service failed; retry later or check its logs.',
      );
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new AurenError('auth', `token service ${realmUrl.origin} for ${registry} returned a response that is not JSON`);
    }
    const token = typeof body.token === 'string' && body.token ? body.token : typeof body.access_token === 'string' ? body.access_token : '';
    if (!token) throw new AurenError('auth', `token service ${realmUrl.origin} for ${registry} returned no token`);
    remember(token);
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_EXPIRES_IN_S;
    const margin = Math.min(MAX_MARGIN_S, expiresIn * 0.25);
    const header = `Bearer ${token}`;
    const entry: CachedToken = { scopes, header, expiresAt: now() + (expiresIn - margin) * 1000 };
    const host = registryHost(registry);
    const list = (tokens.get(host) ?? []).filter((t) => t.expiresAt > now() && t.scopes.join(' ') !== scopes.join(' '));
    tokens.set(host, [...list, entry]);
    return header;
  };

  return {
    cached(registry, scopes) {
      const host = registryHost(registry);
      const basic = basicByRegistry.get(host);
      if (basic) return basic;
      const wanted = normalizeScopes(scopes);
      const valid = (tokens.get(host) ?? []).filter((t) => t.expiresAt > now());
      // Newest first: a fresh token is the one most likely to carry what the registry granted last.
      return valid.reverse().find((t) => scopesCover(t.scopes, wanted))?.header;
    },

    async authorize(registry, challengeHeader, scopes, context) {
      const challenges = parseChallenges(challengeHeader);
      const bearer = challenges.find((c) => c.scheme === 'bearer');
      if (bearer) {
        const merged = normalizeScopes([...scopes, ...(bearer.params.scope ? [bearer.params.scope] : [])]);
        const key = `${registryHost(registry)} ${merged.join(' ')}`;
        let pending = inFlight.get(key);
        if (!pending) {
          pending = fetchToken(registry, bearer, merged, context).finally(() => inFlight.delete(key));
          inFlight.set(key, pending);
        }
        return pending;
      }
      if (challenges.some((c) => c.scheme === 'basic')) {
        const credentials = await credentialsFor(registry);
        if (!credentials) return undefined;
        const header = basicHeader(credentials);
        basicByRegistry.set(registryHost(registry), header);
        return header;
      }
      return undefined;
    },

    secrets() {
      return [...secrets];
    },
  };
}

/** A short, redacted reason from a token-service error body (`errors[0].message`, OAuth `error_description`). */
function detail(text: string, secrets: Set<string>): string {
  let message = '';
  try {
    const body = JSON.parse(text) as { errors?: { message?: string }[]; error_description?: string; error?: string; details?: string };
    message = body.errors?.[0]?.message ?? body.error_description ?? body.details ?? body.error ?? '';
  } catch {
    message = '';
  }
  message = redactText(String(message), [...secrets]).replace(/\s+/g, ' ').trim().slice(0, 200);
  return message ? `: ${message}` : '';
}
