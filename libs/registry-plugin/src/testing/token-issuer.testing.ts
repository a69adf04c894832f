import { createHash, randomBytes, sign, X509Certificate, type KeyObject, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../lib/exec/exec';

/**
 * A real token service for distribution's `auth: token:` scheme
 * (https://distribution.github.io/distribution/spec/auth/token/), for integration tests.
 *
 * distribution 2.8 (registry/auth/token/token.go) finds the signing key from the JWT header in
 * this order: `x5c` (chain verified against `rootcertbundle`), `jwk`, then `kid`, which it looks
 * up among the bundle's certificates by their *libtrust key id*: SHA-256 of the DER (PKIX)
 * public key, truncated to 240 bits, base32, in 12 groups of 4 joined by ':'. It checks `iss`
 * against `issuer`, `aud` (a single string in 2.8) against `service`, and exp/nbf with 60 s leeway.
 * Signatures are JWS: ES256 is the raw r||s pair, not DER.
 */
export interface Grant {
  /** Default `repository`. */
  type?: string;
  /** Resource name; `*` matches any run of characters (`auren/*`, `*`). */
  name: string;
  actions: string[];
}

export interface TokenIssuerOptions {
  users?: Record<string, { password: string; grants?: Grant[] }>;
  /** Grants for requests without credentials; when absent, anonymous requests are refused (401). */
  anonymous?: Grant[];
  service?: string;
  issuer?: string;
  /** Lifetime of issued tokens in seconds (`expires_in`); default 300. */
  expiresIn?: number;
  /** How the JWT names its key: the libtrust `kid` (default) or an `x5c` certificate chain. */
  keyReference?: 'kid' | 'x5c';
}

export interface IssuedToken {
  subject: string;
  requested: string[];
  access: { type: string; name: string; actions: string[] }[];
  grantType: 'basic' | 'anonymous' | 'password' | 'refresh_token';
}

export interface TokenIssuer {
  /** `http://127.0.0.1:<port>/token` */
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  keyPath: string;
  /** The libtrust key id of the signing key (what goes into `kid`). */
  keyId: string;
  /** Top-level registry YAML (`extraConfig` for startTestRegistry). */
  yaml: string;
  /** Every token issued, in order (tests assert on caching with this). */
  issued: IssuedToken[];
  /** Every refused request (bad credentials). */
  refused: number;
  stop(): Promise<void>;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** libtrust's `keyIDFromCryptoKey` (see the note at the top of this file). */
export function libtrustKeyId(spkiDer: Buffer): string {
  const encoded = base32(createHash('sha256').update(spkiDer).digest().subarray(0, 30));
  return encoded.match(/.{1,4}/g)!.join(':');
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

function grantFor(grants: Grant[], type: string, name: string, actions: string[]): string[] {
  const allowed = new Set<string>();
  for (const g of grants) {
    if ((g.type ?? 'repository') !== type || !globMatch(g.name, name)) continue;
    g.actions.forEach((a) => allowed.add(a));
  }
  return actions.filter((a) => allowed.has(a) || allowed.has('*'));
}

function parseScopeParam(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const dir = await mkdtemp(join(tmpdir(), 'auren-token-issuer-'));
  const keyPath = join(dir, 'issuer.key');
  const certPath = join(dir, 'issuer.crt');
  await exec('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=auren-test-token-issuer',
  ]);
  const privateKey: KeyObject = createPrivateKey(await readFile(keyPath));
  const cert = new X509Certificate(await readFile(certPath));
  const keyId = libtrustKeyId(cert.publicKey.export({ type: 'spki', format: 'der' }));
  const service = options.service ?? 'auren-test-registry';
  const issuerName = options.issuer ?? 'auren-test-issuer';
  const expiresIn = options.expiresIn ?? 300;
  const users = options.users ?? {};
  const issued: IssuedToken[] = [];
  const refreshTokens = new Map<string, string>();
  let refused = 0;

  const jwt = (subject: string, access: IssuedToken['access']): string => {
    const header =
      options.keyReference === 'x5c'
        ? { typ: 'JWT', alg: 'ES256', x5c: [cert.raw.toString('base64')] }
        : { typ: 'JWT', alg: 'ES256', kid: keyId };
    const iat = Math.floor(Date.now() / 1000);
    const claims = {
      iss: issuerName,
      sub: subject,
      aud: service,
      exp: iat + expiresIn,
      nbf: iat - 1,
      iat,
      jti: randomBytes(16).toString('hex'),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${b64url(signature)}`;
  };

  const grantsOf = (subject: string | undefined) => (subject === undefined ? options.anonymous ?? [] : users[subject]?.grants ?? []);

  const issue = (subject: string | undefined, scopes: string[], grantType: IssuedToken['grantType']) => {
    const access: IssuedToken['access'] = [];
    for (const scope of scopes) {
      const parsed = parseScopeParam(scope);
      if (!parsed) continue;
      const actions = grantFor(grantsOf(subject), parsed.type, parsed.name, parsed.actions);
      if (actions.length) access.push({ type: parsed.type, name: parsed.name, actions });
    }
    issued.push({ subject: subject ?? '', requested: scopes, access, grantType });
    return jwt(subject ?? '', access);
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const unauthorized = (res: ServerResponse) => {
    refused++;
    send(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, {
      'www-authenticate': 'Basic realm="auren-test-token-issuer"',
    });
  };
  const checkUser = (user: string, password: string) => users[user]?.password === password;

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/token') return send(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
      const now = Math.floor(Date.now() / 1000);
      if (req.method === 'GET') {
        const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
        if (url.searchParams.get('service') !== service) {
          return send(res, 400, { errors: [{ code: 'INVALID_REQUEST', message: 'unknown service' }] });
        }
        const auth = req.headers.authorization;
        let subject: string | undefined;
        if (auth) {
          const match = /^Basic\s+(.+)$/i.exec(auth);
          const decoded = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
          const colon = decoded.indexOf(':');
          if (colon === -1 || !checkUser(decoded.slice(0, colon), decoded.slice(colon + 1))) return unauthorized(res);
          subject = decoded.slice(0, colon);
        } else if (!options.anonymous) {
          return unauthorized(res);
        }
        const token = issue(subject, scopes, subject === undefined ? 'anonymous' : 'basic');
        return send(res, 200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() });
      }
      if (req.method === 'POST') {
        // OAuth2 flow (distribution spec: auth/oauth): password grant hands out a refresh token,
        // which clients keep as docker's `identitytoken`.
        const form = new URLSearchParams(await readBody(req));
        const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        if (form.get('service') !== service) return send(res, 400, { error: 'invalid_request' });
        let subject: string | undefined;
        let refreshToken: string | undefined;
        if (form.get('grant_type') === 'password') {
          const user = form.get('username') ?? '';
          if (!checkUser(user, form.get('password') ?? '')) return unauthorized(res);
          subject = user;
          refreshToken = randomBytes(24).toString('hex');
          refreshTokens.set(refreshToken, user);
        } else if (form.get('grant_type') === 'refresh_token') {
          subject = refreshTokens.get(form.get('refresh_token') ?? '');
          if (subject === undefined) return unauthorized(res);
        } else {
          return send(res, 400, { error: 'unsupported_grant_type' });
        }
        const token = issue(subject, scopes, refreshToken ? 'password' : 'refresh_token');
        return send(res, 200, { access_token: token, expires_in: expiresIn, scope: scopes.join(' '), ...(refreshToken ? { refresh_token: refreshToken } : {}) });
      }
      send(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'method not allowed' }] });
    })().catch((error) => send(res, 500, { errors: [{ code: 'UNKNOWN', message: String(error) }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const realm = `http://127.0.0.1:${port}/token`;

  return {
    realm,
    service,
    issuer: issuerName,
    certPath,
    keyPath,
    keyId,
    yaml: ['auth:', '  token:', `    realm: ${realm}`, `    service: ${service}`, `    issuer: ${issuerName}`, `    rootcertbundle: ${certPath}`].join('\n'),
    issued,
    get refused() {
      return refused;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
