import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * An HTTP proxy in front of a test registry that misbehaves on a deterministic schedule:
 * error statuses (503, 429 + Retry-After), garbage answers, slow answers, connections reset
 * before an answer, and connections dropped in the middle of a request body (a blob upload).
 * The `Host` header is passed through, so the registry's `Location` URLs point back at the proxy
 * and upload sessions keep going through it.
 */
export type FaultAction =
  /** Answer this instead of the registry (the request body is read and thrown away). */
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string | Buffer }
  /** Forward the request but cut both connections after this many request-body bytes. */
  | { kind: 'drop'; afterBytes: number }
  /** Forward the request after waiting. */
  | { kind: 'delay'; ms: number }
  /** Close the client connection without any answer. */
  | { kind: 'reset' };

export interface FaultRule {
  /** Only requests with this method (any if absent). */
  method?: string;
  /** Only paths (with query) matching this; a string matches as a substring. */
  path?: RegExp | string;
  /** Let this many matching requests through untouched first. Default 0. */
  skip?: number;
  /** How many matching requests (after `skip`) get the fault. Default 1; `Infinity` for all. */
  times?: number;
  action: FaultAction;
}

export interface FaultLogEntry {
  method: string;
  path: string;
  /** The fault applied, if any (`respond 503`, `drop@1024`, `delay 200`, `reset`). */
  fault?: string;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>`, for `createRegistryClient({ registry })`. */
  host: string;
  port: number;
  log: FaultLogEntry[];
  /** Add rules while running (they are checked after the existing ones). */
  add(rule: FaultRule): void;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** `http://127.0.0.1:<port>` of the real registry. */
  target: string;
  faults?: FaultRule[];
}

/** Shorthands for the usual schedule entries. */
export const faults = {
  status: (status: number, rule: Omit<FaultRule, 'action'> = {}, retryAfterSeconds?: number): FaultRule => ({
    ...rule,
    action: {
      kind: 'respond',
      status,
      headers: {
        'content-type': 'application/json',
        ...(retryAfterSeconds !== undefined ? { 'retry-after': String(retryAfterSeconds) } : {}),
      },
      body: JSON.stringify({ errors: [{ code: status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: `injected ${status}` }] }),
    },
  }),
  drop: (afterBytes: number, rule: Omit<FaultRule, 'action'> = {}): FaultRule => ({ ...rule, action: { kind: 'drop', afterBytes } }),
  delay: (ms: number, rule: Omit<FaultRule, 'action'> = {}): FaultRule => ({ ...rule, action: { kind: 'delay', ms } }),
  reset: (rule: Omit<FaultRule, 'action'> = {}): FaultRule => ({ ...rule, action: { kind: 'reset' } }),
  respond: (status: number, body: string | Buffer, headers: Record<string, string> = {}, rule: Omit<FaultRule, 'action'> = {}): FaultRule => ({
    ...rule,
    action: { kind: 'respond', status, headers, body },
  }),
};

function matches(rule: FaultRule, req: IncomingMessage): boolean {
  if (rule.method && rule.method.toUpperCase() !== req.method) return false;
  const path = req.url ?? '';
  if (rule.path === undefined) return true;
  return typeof rule.path === 'string' ? path.includes(rule.path) : rule.path.test(path);
}

function describe(action: FaultAction): string {
  switch (action.kind) {
    case 'respond':
      return `respond ${action.status}`;
    case 'drop':
      return `drop@${action.afterBytes}`;
    case 'delay':
      return `delay ${action.ms}`;
    case 'reset':
      return 'reset';
    default: {
      const unhandled: never = action;
      return unhandled;
    }
  }
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const rules = (options.faults ?? []).map((rule) => ({ rule, seen: 0, applied: 0 }));
  const log: FaultLogEntry[] = [];
  const sockets = new Set<Socket>();

  const pick = (req: IncomingMessage): FaultAction | undefined => {
    for (const state of rules) {
      if (!matches(state.rule, req)) continue;
      state.seen++;
      if (state.seen <= (state.rule.skip ?? 0)) continue;
      if (state.applied >= (state.rule.times ?? 1)) continue;
      state.applied++;
      return state.rule.action;
    }
    return undefined;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, dropAfter?: number) => {
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    if (dropAfter === undefined) {
      req.pipe(upstream);
      return;
    }
    let sent = 0;
    let dropped = false;
    req.on('data', (chunk: Buffer) => {
      if (dropped) return;
      const room = dropAfter - sent;
      if (chunk.length < room) {
        upstream.write(chunk);
        sent += chunk.length;
        return;
      }
      dropped = true;
      upstream.write(chunk.subarray(0, room), () => {
        // Let the registry take the partial body in, then cut both sides as a network would.
        setTimeout(() => {
          upstream.destroy();
          req.socket.destroy();
        }, 50);
      });
    });
    req.on('end', () => {
      if (!dropped) upstream.end();
    });
  };

  const server = createServer((req, res) => {
    const action = pick(req);
    log.push({ method: req.method ?? '', path: req.url ?? '', ...(action ? { fault: describe(action) } : {}) });
    if (!action) return forward(req, res);
    switch (action.kind) {
      case 'respond': {
        req.resume();
        req.on('end', () => {
          const body = action.body ?? '';
          res.writeHead(action.status, { 'content-length': String(Buffer.byteLength(body)), ...action.headers });
          res.end(req.method === 'HEAD' ? undefined : body);
        });
        return;
      }
      case 'drop':
        return forward(req, res, action.afterBytes);
      case 'delay': {
        // A keep-alive socket carries many requests: drop the listener once this one is forwarded.
        const cancel = () => clearTimeout(timer);
        const timer = setTimeout(() => {
          req.socket.off('close', cancel);
          forward(req, res);
        }, action.ms);
        req.socket.once('close', cancel);
        return;
      }
      case 'reset':
        req.socket.destroy();
        return;
      default: {
        const unhandled: never = action;
        return unhandled;
      }
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    log,
    add(rule) {
      rules.push({ rule, seen: 0, applied: 0 });
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
