import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';

/**
 * Replays recorded provider answers (fixtures/*.json, in the shapes the providers document)
 * from a real HTTP server on 127.0.0.1, and records what the adapters sent. `{{base}}` in a
 * body or header becomes the server's origin, so pagination links point back at it.
 */
export interface FixtureInteraction {
  request: { method: string; path: string; query?: Record<string, string>; body?: unknown };
  response: { status: number; headers?: Record<string, string>; body?: unknown };
}

export interface Fixture {
  description: string;
  source: string;
  interactions: FixtureInteraction[];
}

export interface RecordedRequest {
  method: string;
  /** Raw path (percent-encoding kept) and query. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface FixtureServer {
  origin: string;
  requests: RecordedRequest[];
  /** Interactions never asked for (a test can assert it is empty). */
  unused(): FixtureInteraction[];
  close(): Promise<void>;
}

const sameQuery = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

export function loadFixture(name: string): Fixture {
  return JSON.parse(readFileSync(join(__dirname, 'fixtures', `${name}.json`), 'utf8')) as Fixture;
}

export async function startFixtureServer(...names: string[]): Promise<FixtureServer> {
  const interactions = names.flatMap((n) => loadFixture(n).interactions);
  const used = new Set<number>();
  const requests: RecordedRequest[] = [];
  let origin = '';
  const fill = (text: string) => text.split('{{base}}').join(origin);

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const path = q === -1 ? raw : raw.slice(0, q);
      const query = Object.fromEntries(new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)));
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // keep the text
      }
      requests.push({ method: req.method ?? 'GET', path, query, headers: req.headers, body });
      const index = interactions.findIndex(
        (it, i) =>
          !used.has(i) &&
          it.request.method === req.method &&
          it.request.path === path &&
          sameQuery(it.request.query ?? {}, query),
      );
      if (index === -1) {
        res.writeHead(599, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `no recorded answer for ${req.method} ${raw}` }));
        return;
      }
      used.add(index);
      const answer = interactions[index].response;
      const headers = Object.fromEntries(Object.entries(answer.headers ?? {}).map(([k, v]) => [k, fill(v)]));
      if (answer.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json; charset=utf-8';
      res.writeHead(answer.status, headers);
      res.end(answer.body === undefined ? undefined : fill(JSON.stringify(answer.body)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    origin,
    requests,
    unused: () => interactions.filter((_, i) => !used.has(i)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
