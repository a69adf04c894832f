import { AurenError, formatError } from '../errors/errors';
import { startFixtureServer, type FixtureServer } from './fixture-server.testing';
import { ProviderRateLimitError, nextLinkFromHeader, readRateLimit } from './http';
import {
  canCollectGarbage,
  canDeleteTags,
  canListTags,
  canReportStorage,
  providerFor,
  providerKindFor,
  type GcRun,
  type ProviderOptions,
  type RegistryProvider,
} from './index';

/** Recorded answers in the providers' documented shapes, replayed by a real local HTTP server. */
const NOW = Date.parse('2026-03-02T10:00:00Z');
const RESET = new Date(1772447400 * 1000).toISOString();
const DO_TOKEN = 'dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const GH_TOKEN = 'ghp_FixtureTokenThatMustNeverBePrinted0001';
const HUB_TOKEN = 'dckr_pat_FixtureTokenNeverPrinted';
const HUB_JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhdXJlbi1jaSJ9.c2lnbmF0dXJlLWZpeHR1cmU';
const SECRETS = [DO_TOKEN, GH_TOKEN, HUB_TOKEN, HUB_JWT];

let server: FixtureServer | undefined;
const logs: string[] = [];
const sleeps: number[] = [];

afterEach(async () => {
  await server?.close();
  server = undefined;
  logs.length = 0;
  sleeps.length = 0;
});

async function provider(registry: string, fixtures: string[], extra: Partial<ProviderOptions> = {}): Promise<RegistryProvider> {
  server = await startFixtureServer(...fixtures);
  let clock = NOW;
  return providerFor(registry, {
    env: { DIGITALOCEAN_ACCESS_TOKEN: DO_TOKEN, GITHUB_TOKEN: GH_TOKEN, DOCKERHUB_USERNAME: 'auren-ci', DOCKERHUB_TOKEN: HUB_TOKEN },
    baseUrls: { digitalocean: server.origin, github: server.origin, dockerhub: server.origin },
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    log: (line) => logs.push(line),
    maxRateLimitWaitMs: 0,
    ...extra,
  });
}

/** The request log, as "METHOD path" lines (query left out unless asked). */
const sent = (withQuery = false) =>
  (server?.requests ?? []).map((r) => {
    const query = new URLSearchParams(r.query).toString();
    return `${r.method} ${r.path}${withQuery && query ? `?${query}` : ''}`;
  });

/** Every request carried `Bearer <expected>`; compared without ever printing the value. */
function expectBearer(expected: string, from = 0) {
  const requests = (server?.requests ?? []).slice(from);
  const ok = requests.every((r) => r.headers.authorization === `Bearer ${expected}`);
  expect({ scheme: 'Bearer', everyRequestCarriesTheToken: ok }).toEqual({ scheme: 'Bearer', everyRequestCarriesTheToken: true });
}

function expectNoSecret(...texts: unknown[]) {
  const all = [...texts.map((t) => (typeof t === 'string' ? t : JSON.stringify(t) ?? String(t))), ...logs].join('\n');
  const leaked = SECRETS.filter((s) => all.includes(s));
  expect(leaked.length).toBe(0);
}

async function failure(promise: Promise<unknown>): Promise<AurenError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AurenError);
    return error as AurenError;
  }
  throw new Error('expected a failure');
}

describe('providerFor', () => {
  it.each([
    ['registry.digitalocean.com', 'digitalocean', ['tagList', 'tagDelete', 'gc', 'storage']],
    ['ghcr.io', 'github', ['tagList', 'tagDelete']],
    ['docker.io', 'dockerhub', ['tagList', 'tagDelete']],
    ['registry-1.docker.io', 'dockerhub', ['tagList', 'tagDelete']],
    ['index.docker.io', 'dockerhub', ['tagList', 'tagDelete']],
    ['127.0.0.1:5000', 'distribution', []],
    ['registry.example.com:8443', 'distribution', []],
  ])('%s → %s with %j', (host, kind, capabilities) => {
    const p = providerFor(host, { env: {} });
    expect(providerKindFor(host)).toBe(kind);
    expect(p.kind).toBe(kind);
    const has = [
      canListTags(p) && 'tagList',
      canDeleteTags(p) && 'tagDelete',
      canCollectGarbage(p) && 'gc',
      canReportStorage(p) && 'storage',
    ].filter(Boolean);
    expect(has).toEqual(capabilities);
  });

  it('fails when a capability is used without a token, naming the variable and no secret', async () => {
    const p = providerFor('registry.digitalocean.com', { env: {}, registryName: 'auren' });
    if (!canReportStorage(p)) throw new Error('capability missing');
    const error = await failure(p.storageUsage());
    expect(error.kind).toBe('auth');
    expect(error.hint).toContain('DIGITALOCEAN_ACCESS_TOKEN');
  });
});

describe('rate-limit headers', () => {
  it.each([
    [{ 'ratelimit-remaining': '0', 'ratelimit-reset': '1772447400' }, { remaining: 0, resetAt: 1772447400000, retryAt: undefined }],
    [{ 'x-ratelimit-remaining': '12', 'x-ratelimit-reset': '1772447400' }, { remaining: 12, resetAt: 1772447400000, retryAt: undefined }],
    [{ 'retry-after': '60' }, { remaining: undefined, resetAt: undefined, retryAt: NOW + 60_000 }],
    [{ 'retry-after': 'Mon, 02 Mar 2026 10:30:00 GMT' }, { remaining: undefined, resetAt: undefined, retryAt: Date.parse('2026-03-02T10:30:00Z') }],
  ])('%j', (headers, expected) => {
    const map = new Map(Object.entries(headers));
    expect(readRateLimit({ get: (n) => map.get(n) ?? null }, NOW)).toEqual(expected);
  });

  it('finds rel="next" among several Link relations', () => {
    expect(nextLinkFromHeader('<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next", <https://a/x?page=9>; rel="last"')).toBe(
      'https://a/x?page=3',
    );
    expect(nextLinkFromHeader('<https://a/x?page=1>; rel="first"')).toBeUndefined();
  });
});

describe('DigitalOcean', () => {
  it('lists tags across every page (links.pages.next) with dates and digests', async () => {
    const p = await provider('registry.digitalocean.com', ['digitalocean-tags']);
    if (!canListTags(p)) throw new Error('capability missing');
    const pages: number[] = [];
    const tags = await p.tagList('auren/auren-api', { pageSize: 2, onPage: (page) => pages.push(page.length) });
    expect(tags.map((t) => t.tag)).toEqual(['1.2.0', '1.2.1', '1.3.0', 'latest', 'main-4f2a9c1']);
    expect(tags[0]).toEqual({
      repository: 'auren/auren-api',
      tag: '1.2.0',
      digest: `sha256:${'a'.repeat(64)}`,
      updatedAt: '2026-02-01T12:00:00Z',
      sizeBytes: 41234567,
    });
    expect(pages).toEqual([2, 2, 1]);
    expect(sent(true)).toEqual([
      'GET /v2/registry/auren/repositories/auren-api/tags?per_page=2',
      'GET /v2/registry/auren/repositories/auren-api/tags?page=2&per_page=2',
      'GET /v2/registry/auren/repositories/auren-api/tags?page=3&per_page=2',
    ]);
    expectBearer(DO_TOKEN);
    expect(server?.unused()).toEqual([]);
    expectNoSecret(tags);
  });

  it('stops cleanly on 429 with the time to resume and a cursor at the page that failed', async () => {
    const p = await provider('registry.digitalocean.com', ['digitalocean-rate-limit-429']);
    if (!canListTags(p)) throw new Error('capability missing');
    const seen: string[] = [];
    const error = await failure(p.tagList('auren/auren-api', { pageSize: 2, onPage: (page) => seen.push(...page.map((t) => t.tag)) }));
    expect(error).toBeInstanceOf(ProviderRateLimitError);
    const limit = error as ProviderRateLimitError;
    expect(limit.resumeAt.toISOString()).toBe('2026-03-02T10:30:00.000Z');
    expect(limit.message).toContain('resume after 2026-03-02T10:30:00.000Z');
    expect(limit.cursor).toBe(`${server?.origin}/v2/registry/auren/repositories/auren-api/tags?page=2&per_page=2`);
    expect(seen).toEqual(['1.2.0', '1.2.1']);
    expectNoSecret(formatError(error));
  });

  it('does not send the next request once ratelimit-remaining is 0, and says when to resume', async () => {
    const p = await provider('registry.digitalocean.com', ['digitalocean-rate-limit-remaining-0']);
    if (!canListTags(p)) throw new Error('capability missing');
    const error = (await failure(p.tagList('auren/auren-api', { pageSize: 2 }))) as ProviderRateLimitError;
    expect(error.resumeAt.toISOString()).toBe(RESET);
    expect(error.cursor).toContain('page=2');
    expect(sent()).toHaveLength(1);
    expectNoSecret(formatError(error));
  });

  it('resumes a listing from the cursor of a stopped run', async () => {
    const p = await provider('registry.digitalocean.com', ['digitalocean-tags']);
    if (!canListTags(p)) throw new Error('capability missing');
    const rest = await p.tagList('auren/auren-api', { cursor: `${server?.origin}/v2/registry/auren/repositories/auren-api/tags?page=2&per_page=2` });
    expect(rest.map((t) => t.tag)).toEqual(['1.3.0', 'latest', 'main-4f2a9c1']);
  });

  it('deletes one tag (nested repository names are %2F-encoded); a missing tag is a value', async () => {
    const p = await provider('registry.digitalocean.com', ['digitalocean-tag-delete']);
    if (!canDeleteTags(p)) throw new Error('capability missing');
    expect(await p.tagDelete('auren/team/auren-api', 'main-4f2a9c1')).toEqual({ outcome: 'deleted', removedTags: ['main-4f2a9c1'] });
    expect(await p.tagDelete('auren/team/auren-api', 'gone')).toEqual({ outcome: 'not-found' });
    expect(sent()).toEqual([
      'DELETE /v2/registry/auren/repositories/team%2Fauren-api/tags/main-4f2a9c1',
      'DELETE /v2/registry/auren/repositories/team%2Fauren-api/tags/gone',
    ]);
    expectBearer(DO_TOKEN);
  });

  it('starts garbage collection and follows it to the end through every status', async () => {
    const p = await provider('registry.digitalocean.com', ['digitalocean-gc'], { namespace: 'auren', gcPollIntervalMs: 15_000 });
    if (!canCollectGarbage(p)) throw new Error('capability missing');
    const started = await p.gcStart();
    expect(started.outcome).toBe('started');
    expect(started.run).toMatchObject({ id: 'eff0feee-49c7-4e8f-ba5c-a320c109c8a8', status: 'requested', state: 'running' });
    const progress: GcRun[] = [];
    const done = await p.gcWait((run) => progress.push(run), { id: started.run.id });
    expect(progress.map((r) => r.status)).toEqual([
      'waiting for write JWTs to expire',
      'scanning manifests',
      'deleting unreferenced blobs',
      'succeeded',
    ]);
    expect(done).toMatchObject({ state: 'succeeded', blobsDeleted: 42, freedBytes: 667000000 });
    expect(sleeps).toEqual([15_000, 15_000, 15_000, 15_000]);
    expect(server?.requests[0].body).toEqual({ type: 'unreferenced blobs only' });
    expect(sent()[0]).toBe('POST /v2/registry/auren/garbage-collection');
    expect(sent().at(-1)).toBe('GET /v2/registry/auren/garbage-collections');
    expect(server?.unused()).toEqual([]);
    expectBearer(DO_TOKEN);
  });

  it('reports an active collection instead of failing when one is already running (409)', async () => {
    const p = await provider('registry.digitalocean.com', ['digitalocean-gc-conflict'], { registryName: 'auren' });
    if (!canCollectGarbage(p)) throw new Error('capability missing');
    const result = await p.gcStart({ includeUntaggedManifests: true });
    expect(result.outcome).toBe('already-running');
    expect(result.run.status).toBe('scanning manifests');
    expect(server?.requests[0].body).toEqual({ type: 'untagged manifests and unreferenced blobs' });
  });

  it('reports storage usage against the subscription tier', async () => {
    const p = await provider('registry.digitalocean.com', ['digitalocean-storage']);
    if (!canReportStorage(p)) throw new Error('capability missing');
    expect(await p.storageUsage()).toEqual({
      usedBytes: 4294967296,
      quotaBytes: 5368709120,
      tier: 'basic',
      overageAllowed: true,
      measuredAt: '2026-03-02T09:39:49.530562231Z',
    });
    expectBearer(DO_TOKEN);
  });

  it('a refused token is an auth error with a hint, and no token in it', async () => {
    server = await startFixtureServer();
    const p = providerFor('registry.digitalocean.com', {
      env: { DIGITALOCEAN_ACCESS_TOKEN: DO_TOKEN },
      baseUrls: { digitalocean: server.origin },
      registryName: 'auren',
      fetch: async () => new Response(JSON.stringify({ id: 'unauthorized', message: `Unable to authenticate you with ${DO_TOKEN}` }), { status: 401 }) as never,
      log: (l) => logs.push(l),
    });
    if (!canReportStorage(p)) throw new Error('capability missing');
    const error = await failure(p.storageUsage());
    expect(error.kind).toBe('auth');
    expectNoSecret(formatError(error));
  });
});

describe('GitHub Packages (ghcr.io)', () => {
  it('lists tags from package versions, following Link rel="next" to the last page', async () => {
    const p = await provider('ghcr.io', ['github-versions']);
    if (!canListTags(p)) throw new Error('capability missing');
    const tags = await p.tagList('auren-org/auren/auren-api', { pageSize: 2 });
    expect(tags.map((t) => `${t.tag}@${t.versionId}`)).toEqual(['1.2.0@9001', '1.3.0@9002', 'latest@9002', 'main-4f2a9c1@9004', 'pr-12@9005']);
    expect(tags.find((t) => t.tag === 'latest')).toMatchObject({ sharedWith: ['1.3.0'], updatedAt: '2026-02-10T08:00:00Z' });
    expect(sent(true)).toEqual([
      'GET /users/auren-org',
      'GET /orgs/auren-org/packages/container/auren%2Fauren-api/versions?per_page=2',
      'GET /organizations/112233/packages/container/auren%2Fauren-api/versions?per_page=2&page=2',
      'GET /organizations/112233/packages/container/auren%2Fauren-api/versions?per_page=2&page=3',
    ]);
    expectBearer(GH_TOKEN);
    expect(server?.requests.every((r) => r.headers['x-github-api-version'] === '2022-11-28')).toBe(true);
    expectNoSecret(tags);
  });

  it('deletes the version carrying a tag, but not a version shared with other tags unless asked', async () => {
    const p = await provider('ghcr.io', ['github-delete']);
    if (!canDeleteTags(p)) throw new Error('capability missing');
    expect(await p.tagDelete('auren-org/auren/auren-api', 'main-4f2a9c1')).toEqual({ outcome: 'deleted', removedTags: ['main-4f2a9c1'] });
    expect(await p.tagDelete('auren-org/auren/auren-api', '1.3.0')).toEqual({ outcome: 'shares-version', otherTags: ['latest'] });
    expect(await p.tagDelete('auren-org/auren/auren-api', '1.3.0', { withSharedTags: true })).toEqual({
      outcome: 'deleted',
      removedTags: ['1.3.0', 'latest'],
    });
    expect(sent().filter((l) => l.startsWith('DELETE'))).toEqual([
      'DELETE /orgs/auren-org/packages/container/auren%2Fauren-api/versions/9004',
      'DELETE /orgs/auren-org/packages/container/auren%2Fauren-api/versions/9002',
    ]);
    expect(server?.unused()).toEqual([]);
    expectBearer(GH_TOKEN);
  });

  // AUREN_REGISTRY_USERNAME/PASSWORD belong to the registry AUREN_REGISTRY names (host[:port][/namespace]).
  it.each([
    ['names ghcr.io with a namespace', 'ghcr.io/auren-org', true],
    ['is unset', undefined, true],
    ['names another registry', '127.0.0.1:5000/auren', false],
  ])('when AUREN_REGISTRY %s (%s), the registry password reaches the API: %s', async (_, registryVariable, reaches) => {
    const env = { ...(registryVariable ? { AUREN_REGISTRY: registryVariable } : {}), AUREN_REGISTRY_USERNAME: 'ci', AUREN_REGISTRY_PASSWORD: GH_TOKEN };
    const p = await provider('ghcr.io', ['github-versions'], { env });
    if (!canListTags(p)) throw new Error('capability missing');
    if (reaches) {
      expect(await p.tagList('auren-org/auren/auren-api', { pageSize: 2 })).toHaveLength(5);
      expectBearer(GH_TOKEN);
    } else {
      expect((await failure(p.tagList('auren-org/auren/auren-api', { pageSize: 2 }))).kind).toBe('auth');
      expect(sent()).toEqual([]);
    }
  });

  it('uses /user/packages for a user-owned package', async () => {
    const p = await provider('ghcr.io', ['github-user-owned']);
    if (!canListTags(p)) throw new Error('capability missing');
    expect((await p.tagList('octo-dev/auren-api')).map((t) => t.tag)).toEqual(['0.1.0']);
    expect(sent()).toEqual(['GET /users/octo-dev', 'GET /user/packages/container/auren-api/versions']);
  });

  it('stops on the primary rate limit (403, remaining 0) with the reset time', async () => {
    const p = await provider('ghcr.io', ['github-rate-limit']);
    if (!canListTags(p)) throw new Error('capability missing');
    const error = (await failure(p.tagList('auren-org/auren/auren-api', { pageSize: 2 }))) as ProviderRateLimitError;
    expect(error).toBeInstanceOf(ProviderRateLimitError);
    expect(error.resumeAt.toISOString()).toBe(RESET);
    expect(error.message).toMatch(/GitHub API rate limit reached on listing versions of ghcr\.io\/auren-org\/auren\/auren-api; resume after/);
    expectNoSecret(formatError(error));
  });
});

describe('Docker Hub', () => {
  it('signs in for a JWT, lists tags over every page (next) and deletes tags', async () => {
    const p = await provider('docker.io', ['dockerhub-tags']);
    if (!canListTags(p) || !canDeleteTags(p)) throw new Error('capability missing');
    const tags = await p.tagList('auren/auren-api', { pageSize: 2 });
    expect(tags.map((t) => t.tag)).toEqual(['1.3.0', 'latest', '1.2.0']);
    expect(tags[2]).toMatchObject({ digest: `sha256:${'a'.repeat(64)}`, updatedAt: '2026-02-01T12:00:00.000000Z', sizeBytes: 41234567 });
    expect(await p.tagDelete('auren/auren-api', '1.2.0')).toEqual({ outcome: 'deleted', removedTags: ['1.2.0'] });
    expect(await p.tagDelete('auren/auren-api', 'gone')).toEqual({ outcome: 'not-found' });
    expect(sent(true)).toEqual([
      'POST /v2/auth/token',
      'GET /v2/namespaces/auren/repositories/auren-api/tags?page_size=2',
      'GET /v2/namespaces/auren/repositories/auren-api/tags?page=2&page_size=2',
      'DELETE /v2/repositories/auren/auren-api/tags/1.2.0/',
      'DELETE /v2/repositories/auren/auren-api/tags/gone/',
    ]);
    const login = server?.requests[0];
    expect(login?.headers.authorization).toBeUndefined();
    expect((login?.body as { identifier?: string }).identifier).toBe('auren-ci');
    expect((login?.body as { secret?: string }).secret === HUB_TOKEN).toBe(true);
    expectBearer(HUB_JWT, 1);
    expectNoSecret(tags);
  });

  it('stops on 429 with Retry-After, saying when to resume', async () => {
    const p = await provider('docker.io', ['dockerhub-rate-limit']);
    if (!canListTags(p)) throw new Error('capability missing');
    const error = (await failure(p.tagList('auren/auren-api', { pageSize: 2 }))) as ProviderRateLimitError;
    expect(error.resumeAt.toISOString()).toBe('2026-03-02T10:10:00.000Z');
    expect(error.cursor).toContain('/v2/namespaces/auren/repositories/auren-api/tags');
    expectNoSecret(formatError(error));
  });

  it('waits out a short rate limit instead of stopping', async () => {
    const p = await provider('docker.io', ['dockerhub-rate-limit', 'dockerhub-tags'], { maxRateLimitWaitMs: 15 * 60_000 });
    if (!canListTags(p)) throw new Error('capability missing');
    const tags = await p.tagList('auren/auren-api', { pageSize: 2 });
    expect(tags).toHaveLength(3);
    expect(sleeps).toEqual([600_000]);
  });
});
