import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A registry that plays the attacker, for tests of the client's trust boundaries. It serves a
 * small in-memory store (blobs, manifests, tags, upload sessions) well enough for pull, push and
 * copy, and each test picks how it misbehaves on which request: wrong bytes, foreign upload
 * `Location`s and redirects, foreign token realms, bodies that never end or trickle, answers
 * larger than their descriptor. A second instance is the "other origin" a test controls: every
 * instance records each request with its `Authorization`, so a test can assert that credentials
 * never reached it.
 *
 * A real registry cannot be made to do any of this, which is why this stand-in exists; the
 * normal paths are tested against distribution itself (`registry-server.testing.ts`).
 */
export type Misbehaviour =
  /** Answer this instead of the store. */
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string | Buffer }
  /** Redirect (302 unless told) to an absolute URL. */
  | { kind: 'redirect'; location: string; status?: number }
  /** 200 and bytes forever (no Content-Length). */
  | { kind: 'endless'; headers?: Record<string, string> }
  /** 200 and one byte every `intervalMs`, forever. */
  | { kind: 'trickle'; intervalMs: number; headers?: Record<string, string> }
  /** 200 headers, then silence with the connection open. */
  | { kind: 'stall'; headers?: Record<string, string> };

export interface HostileRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: IncomingMessage['headers'];
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
}

export interface HostileRegistryOptions {
  /** Serve HTTPS with this certificate and key (PEM text). */
  tls?: { cert: string; key: string };
  /** Require HTTP Basic with these credentials on /v2/ (answers 401 with a Basic challenge otherwise). */
  basicAuth?: { username: string; password: string };
  /** The `Location` of a new upload session (absolute URL); default: this registry's own. */
  uploadLocation?: (session: string) => string;
  /** Decide per request; `undefined` lets the store answer. Replaceable later with `misbehave()`. */
  misbehave?: (request: HostileRequest) => Misbehaviour | undefined;
}

export interface HostileRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  /** `http(s)://127.0.0.1:<port>` */
  origin: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Requests that carried an `Authorization` header. */
  authorized(): RecordedRequest[];
  misbehave(decide: HostileRegistryOptions['misbehave']): void;
  putBlob(body: Buffer): string;
  putManifest(repository: string, reference: string, body: Buffer, mediaType: string): string;
  stop(): Promise<void>;
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export async function startHostileRegistry(options: HostileRegistryOptions = {}): Promise<HostileRegistry> {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { body: Buffer; mediaType: string }>();
  const tags = new Map<string, Set<string>>();
  const uploads = new Map<string, Buffer[]>();
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let decide = options.misbehave;
  let origin = '';

  const putManifest = (repository: string, reference: string, body: Buffer, mediaType: string): string => {
    const digest = sha256(body);
    manifests.set(`${repository}@${digest}`, { body, mediaType });
    if (!reference.includes(':')) {
      manifests.set(`${repository}:${reference}`, { body, mediaType });
      const list = tags.get(repository) ?? new Set<string>();
      list.add(reference);
      tags.set(repository, list);
    }
    return digest;
  };

  function act(res: ServerResponse, action: Misbehaviour): void {
    switch (action.kind) {
      case 'respond':
        res.writeHead(action.status, action.headers);
        res.end(action.body);
        return;
      case 'redirect':
        res.writeHead(action.status ?? 302, { location: action.location });
        res.end();
        return;
      case 'endless': {
        res.writeHead(200, { 'content-type': 'application/octet-stream', ...action.headers });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'application/octet-stream', ...action.headers });
        const timer = setInterval(() => (res.destroyed ? stopTimer() : res.write('a')), action.intervalMs);
        const stopTimer = () => {
          clearInterval(timer);
          timers.delete(timer);
        };
        timers.add(timer);
        res.on('close', stopTimer);
        return;
      }
      case 'stall':
        res.writeHead(200, { 'content-type': 'application/octet-stream', ...action.headers });
        res.flushHeaders();
        return;
      default: {
        const unhandled: never = action;
        throw new Error(`unknown misbehaviour ${JSON.stringify(unhandled)}`);
      }
    }
  }

  function store(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const send = (status: number, headers: Record<string, string> = {}, payload?: Buffer | string) => {
      res.writeHead(status, { 'docker-distribution-api-version': 'registry/2.0', ...headers });
      res.end(method === 'HEAD' ? undefined : payload);
    };
    const notFound = (code: string) => send(404, { 'content-type': 'application/json' }, JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] }));

    if (path === '/v2/' || path === '/v2') return send(200, { 'content-type': 'application/json' }, '{}');
    let match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (match) {
      const [, repository, reference] = match;
      const key = `${repository}${reference.includes(':') ? '@' : ':'}${reference}`;
      if (method === 'PUT') {
        const digest = putManifest(repository, reference, body, String(req.headers['content-type'] ?? ''));
        return send(201, { location: `/v2/${repository}/manifests/${digest}`, 'docker-content-digest': digest });
      }
      const found = manifests.get(key);
      if (!found) return notFound('MANIFEST_UNKNOWN');
      return send(200, { 'content-type': found.mediaType, 'content-length': String(found.body.length), 'docker-content-digest': sha256(found.body) }, found.body);
    }
    match = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(path);
    if (match) {
      const [, repository, session] = match;
      if (method === 'POST') {
        const id = randomBytes(8).toString('hex');
        uploads.set(id, []);
        const location = options.uploadLocation?.(id) ?? `${origin}/v2/${repository}/blobs/uploads/${id}`;
        return send(202, { location, range: '0-0', 'docker-upload-uuid': id, 'content-length': '0' });
      }
      const parts = uploads.get(session);
      if (!parts) return notFound('BLOB_UPLOAD_UNKNOWN');
      if (method === 'DELETE') {
        uploads.delete(session);
        return send(204);
      }
      parts.push(body);
      const stored = Buffer.concat(parts);
      if (method === 'PATCH') {
        return send(202, { location: `${origin}/v2/${repository}/blobs/uploads/${session}`, range: `0-${Math.max(0, stored.length - 1)}`, 'content-length': '0' });
      }
      if (method === 'PUT') {
        const digest = url.searchParams.get('digest') ?? '';
        if (sha256(stored) !== digest) return send(400, { 'content-type': 'application/json' }, JSON.stringify({ errors: [{ code: 'DIGEST_INVALID' }] }));
        blobs.set(digest, stored);
        uploads.delete(session);
        return send(201, { location: `/v2/${repository}/blobs/${digest}`, 'docker-content-digest': digest, 'content-length': '0' });
      }
    }
    match = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path);
    if (match) {
      const found = blobs.get(match[2]);
      if (!found) return notFound('BLOB_UNKNOWN');
      return send(200, { 'content-type': 'application/octet-stream', 'content-length': String(found.length), 'docker-content-digest': match[2] }, found);
    }
    match = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    if (match) {
      const list = [...(tags.get(match[1]) ?? [])];
      return send(200, { 'content-type': 'application/json' }, JSON.stringify({ name: match[1], tags: list }));
    }
    return notFound('NAME_UNKNOWN');
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      requests.push({ method, path, authorization: req.headers.authorization });
      const action = decide?.({ method, path, headers: req.headers });
      if (action) return act(res, action);
      if (options.basicAuth && path.startsWith('/v2')) {
        const expected = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`;
        if (req.headers.authorization !== expected) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="hostile"', 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED' }] }));
          return;
        }
      }
      store(req, res, Buffer.concat(chunks));
    });
  };

  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  origin = `${options.tls ? 'https' : 'http'}://${host}`;

  return {
    host,
    origin,
    requests,
    authorized: () => requests.filter((r) => r.authorization !== undefined),
    misbehave(next) {
      decide = next;
    },
    putBlob(body) {
      const digest = sha256(body);
      blobs.set(digest, body);
      return digest;
    },
    putManifest,
    async stop() {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A tiny image (config + layers + manifest), and what a test needs to serve or corrupt it. */
export interface TinyImage {
  config: { digest: string; body: Buffer };
  layers: Array<{ digest: string; body: Buffer }>;
  manifest: { digest: string; body: Buffer; mediaType: string };
}

export interface TinyImageOptions {
  labels?: Record<string, string>;
  layers?: Buffer[];
  /** Rewrite the manifest document before it is serialised (path-like digests, lying sizes…). */
  edit?: (manifest: { config: Record<string, unknown>; layers: Array<Record<string, unknown>> } & Record<string, unknown>) => void;
}

export const OCI_MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

export function tinyImage(options: TinyImageOptions = {}): TinyImage {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: options.labels ?? {} }, rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const layers = (options.layers ?? [Buffer.from('layer one')]).map((body) => ({ digest: sha256(body), body }));
  const document = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_TYPE,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length } as Record<string, unknown>,
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.body.length }) as Record<string, unknown>),
  };
  options.edit?.(document);
  const body = Buffer.from(JSON.stringify(document));
  return { config: { digest: sha256(config), body: config }, layers, manifest: { digest: sha256(body), body, mediaType: OCI_MANIFEST_TYPE } };
}

/** Stores every blob of `image` and tags its manifest. */
export function serveImage(registry: HostileRegistry, repository: string, tag: string, image: TinyImage): void {
  registry.putBlob(image.config.body);
  for (const layer of image.layers) registry.putBlob(layer.body);
  registry.putManifest(repository, tag, image.manifest.body, image.manifest.mediaType);
}

/**
 * For a spec file: a function that starts a hostile registry, each of which is stopped after the
 * test that started it.
 */
export function hostileRegistryPerTest(options: HostileRegistryOptions = {}): () => Promise<HostileRegistry> {
  const servers: HostileRegistry[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });
  return async () => {
    const server = await startHostileRegistry(options);
    servers.push(server);
    return server;
  };
}
