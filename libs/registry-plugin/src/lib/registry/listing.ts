import { AurenError } from '../errors/errors';
import type { Scope } from './auth/types';
import { CATALOG_SCOPE, pullScope, repoPath } from './arguments';
import { discard } from './http/answers';
import type { Transport } from './http/transport';
import type { ListOptions, PingResult, RegistryClient } from './types';

/** Tag list, catalog and ping (distribution spec "Listing tags", and the `_catalog` extension). */
export type Listing = Pick<RegistryClient, 'tagList' | 'catalogList' | 'ping'>;

const MAX_PAGES = 10_000;

/**
 * RFC 8288 `Link: <url>; rel="next"`, resolved against the page it came with. A target that is
 * not a URL is a `registry` error; the caller then checks the origin before following it.
 */
export function parseNextLink(header: string | null | undefined, current: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /(?:^|;)\s*rel="?next"?\s*(?:;|$)/i.test(match[2])) {
      let next: URL;
      try {
        next = new URL(match[1], current);
      } catch {
        throw new AurenError('registry', `the registry sent a Link header whose target is not a URL (${JSON.stringify(match[1].slice(0, 160))})`, 'The registry or a proxy in front of it is misbehaving; check its logs.');
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new AurenError('registry', `the registry sent a Link header to a ${next.protocol} URL`, 'The registry or a proxy in front of it is misbehaving; check its logs.');
      }
      return next.toString();
    }
  }
  return undefined;
}

export function createListing(t: Transport): Listing {
  async function paginate(first: string, scopes: Scope[], what: string, key: 'tags' | 'repositories', notFound: string[] | undefined): Promise<string[]> {
    const all: string[] = [];
    const seen = new Set<string>();
    let next: string | undefined = first;
    for (let page = 0; next; page++) {
      if (page >= MAX_PAGES || seen.has(next)) throw t.garbage(what, `pagination does not end (page ${page + 1}: ${next})`);
      seen.add(next);
      const res = await t.send({ method: 'GET', url: next, scopes, what, headers: { accept: 'application/json' } });
      if (res.status === 404 && notFound) {
        await discard(res);
        return notFound;
      }
      await t.checkStatus(res, what, [200]);
      const body = await t.readJson<Record<string, unknown>>(res, what);
      const items = body?.[key];
      if (items !== null && items !== undefined && (!Array.isArray(items) || items.some((i) => typeof i !== 'string'))) {
        throw t.garbage(what, `"${key}" is not a list of strings`);
      }
      all.push(...((items as string[] | null) ?? []));
      // The first page is a path until the scheme is decided; Link pages resolve against the real origin.
      const current: string = new URL(next, t.baseUrl).toString();
      next = parseNextLink(res.headers.get('link'), current);
      if (next && new URL(next).origin !== new URL(current).origin) throw t.garbage(what, `Link points to another origin (${next})`);
    }
    return all;
  }

  async function tagList(repo: string, options: ListOptions = {}): Promise<string[]> {
    const n = options.pageSize ?? 1000;
    return paginate(`${repoPath(repo)}/tags/list?n=${n}`, [pullScope(repo)], `listing tags of ${repo}`, 'tags', []);
  }

  async function catalogList(options: ListOptions = {}): Promise<string[]> {
    const n = options.pageSize ?? 1000;
    return paginate(`/v2/_catalog?n=${n}`, [CATALOG_SCOPE], 'listing repositories', 'repositories', undefined);
  }

  async function ping(): Promise<PingResult> {
    const started = Date.now();
    const what = 'GET /v2/';
    const res = await t.send({ method: 'GET', url: '/v2/', scopes: [], what });
    await t.checkStatus(res, what, [200], res.status === 404 ? `${t.baseUrl} does not serve the OCI distribution API; check the registry address.` : undefined);
    await discard(res);
    return { apiVersion: res.headers.get('docker-distribution-api-version') ?? undefined, latencyMs: Date.now() - started };
  }

  return { tagList, catalogList, ping };
}
