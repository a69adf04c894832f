import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch } from 'undici';
import { AurenError, formatError } from '../../errors/errors';
import { exec } from '../../exec/exec';
import { startTestRegistry, type TestRegistry } from '../../../testing/registry-server.testing';
import { writeHtpasswd } from '../../../testing/htpasswd.testing';
import { startTokenIssuer, type TokenIssuer } from '../../../testing/token-issuer.testing';
import { createAuthenticator } from './authenticator';
import type { Authenticator } from './types';

/** What the registry client does: request, on 401 authorize and retry once. */
async function get(registry: TestRegistry, path: string, auth: Authenticator, scopes: string[] = []) {
  const url = `${registry.url}${path}`;
  const cached = auth.cached(registry.host, scopes);
  let response = await fetch(url, { headers: cached ? { authorization: cached } : {} });
  if (response.status !== 401) return { status: response.status, usedCache: !!cached };
  await response.arrayBuffer();
  const header = await auth.authorize(registry.host, response.headers.get('www-authenticate') ?? '', scopes);
  if (!header) return { status: 401, usedCache: false };
  response = await fetch(url, { headers: { authorization: header } });
  await response.arrayBuffer();
  return { status: response.status, usedCache: false };
}

const emptyEnv = (dir: string): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: join(dir, 'docker') });

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'auren-auth-spec-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('htpasswd (Basic) registry', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    const htpasswd = await writeHtpasswd({ ci: 's3cret-basic-pass' }, { dir: scratch });
    registry = await startTestRegistry({ extraConfig: htpasswd.yaml });
  });
  afterAll(() => registry.stop());

  it('answers the challenge with Basic credentials from the environment', async () => {
    const auth = createAuthenticator({
      env: { ...emptyEnv(scratch), AUREN_REGISTRY_USERNAME: 'ci', AUREN_REGISTRY_PASSWORD: 's3cret-basic-pass' },
    });
    expect(await get(registry, '/v2/', auth)).toEqual({ status: 200, usedCache: false });
    // Basic needs no round trip once the scheme is known.
    expect(await get(registry, '/v2/', auth)).toEqual({ status: 200, usedCache: true });
    expect(auth.secrets()).toEqual(
      expect.arrayContaining(['s3cret-basic-pass', Buffer.from('ci:s3cret-basic-pass').toString('base64')]),
    );
  });

  it('returns no header without credentials, and a wrong password stays 401', async () => {
    expect(await get(registry, '/v2/', createAuthenticator({ env: emptyEnv(scratch) }))).toEqual({ status: 401, usedCache: false });
    const wrong = createAuthenticator({ credentials: { username: 'ci', password: 'nope-wrong' } });
    expect((await get(registry, '/v2/', wrong)).status).toBe(401);
  });
});

describe('token (Bearer) registry with a real token issuer', () => {
  let issuer: TokenIssuer;
  let registry: TestRegistry;
  const password = 'tok3n-user-pass';
  beforeAll(async () => {
    issuer = await startTokenIssuer({
      users: { ci: { password, grants: [{ name: 'auren/*', actions: ['pull', 'push'] }] } },
    });
    registry = await startTestRegistry({ extraConfig: issuer.yaml });
  });
  afterAll(async () => {
    await registry.stop();
    await issuer.stop();
  });

  it('fetches a token for the challenge and caches it per scope set', async () => {
    const auth = createAuthenticator({ credentials: { username: 'ci', password } });
    const scopes = ['repository:auren/api:pull'];
    // 404 NAME_UNKNOWN means authentication passed and the (empty) repository was looked up.
    expect(await get(registry, '/v2/auren/api/tags/list', auth, scopes)).toEqual({ status: 404, usedCache: false });
    expect(issuer.issued).toHaveLength(1);
    expect(issuer.issued[0]).toMatchObject({ subject: 'ci', access: [{ type: 'repository', name: 'auren/api', actions: ['pull'] }] });

    expect(await get(registry, '/v2/auren/api/tags/list', auth, scopes)).toEqual({ status: 404, usedCache: true });
    expect(issuer.issued).toHaveLength(1);
    expect(auth.cached(registry.host, ['repository:auren/api:push'])).toBeUndefined();
    expect(auth.cached('127.0.0.1:1', scopes)).toBeUndefined();
  });

  it('gets 200 on /v2/ with a scope-less token', async () => {
    const auth = createAuthenticator({ credentials: { username: 'ci', password } });
    expect((await get(registry, '/v2/', auth)).status).toBe(200);
  });

  it('merges the challenge scope with the caller scopes into one request', async () => {
    const auth = createAuthenticator({ credentials: { username: 'ci', password } });
    const before = issuer.issued.length;
    const res = await fetch(`${registry.url}/v2/auren/web/tags/list`);
    await res.arrayBuffer();
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain('scope="repository:auren/web:pull"');
    await auth.authorize(registry.host, challenge, ['repository:auren/web:push']);
    expect(issuer.issued[before].requested).toEqual(['repository:auren/web:pull,push']);
    expect(auth.cached(registry.host, ['repository:auren/web:pull'])).toMatch(/^Bearer /);
  });

  it('deduplicates concurrent token requests for the same scopes', async () => {
    const auth = createAuthenticator({ credentials: { username: 'ci', password } });
    const before = issuer.issued.length;
    const challenge = `Bearer realm="${issuer.realm}",service="${issuer.service}",scope="repository:auren/x:pull"`;
    const [a, b] = await Promise.all([
      auth.authorize(registry.host, challenge, []),
      auth.authorize(registry.host, challenge, []),
    ]);
    expect(a).toBe(b);
    expect(issuer.issued.length - before).toBe(1);
  });

  it('refuses a wrong password with an auth error that leaks neither password nor token', async () => {
    const good = createAuthenticator({ credentials: { username: 'ci', password } });
    await get(registry, '/v2/', good);
    const goodToken = good.secrets().find((s) => s.split('.').length === 3)!;
    expect(goodToken).toBeDefined();

    const wrong = createAuthenticator({ credentials: { username: 'ci', password: 'wr0ng-password' } });
    const error = await get(registry, '/v2/', wrong).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).kind).toBe('auth');
    const text = `${formatError(error)} ${(error as Error).stack}`;
    expect(text).toContain(`registry ${registry.host} refused`);
    expect(text).toContain('AUREN_REGISTRY_PASSWORD');
    expect(text).toContain('nx run registry:login');
    for (const secret of ['wr0ng-password', password, goodToken, ...wrong.secrets()]) expect(text).not.toContain(secret);
  });

  it('asks for credentials when the token service refuses anonymous access', async () => {
    const auth = createAuthenticator({ env: emptyEnv(scratch) });
    const error = (await get(registry, '/v2/', auth).catch((e: unknown) => e)) as AurenError;
    expect(error.kind).toBe('auth');
    expect(error.message).toContain('refused anonymous access');
    expect(error.hint).toContain('AUREN_REGISTRY_USERNAME');
  });

  it('uses an identity token (OAuth2 refresh token) from config.json', async () => {
    const form = new URLSearchParams({ grant_type: 'password', username: 'ci', password, service: issuer.service, client_id: 'test' });
    const login = (await (await fetch(issuer.realm, { method: 'POST', body: form })).json()) as { refresh_token: string };
    const dockerDir = join(scratch, 'identity');
    await mkdir(dockerDir, { recursive: true });
    await writeFile(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from('ci:').toString('base64'), identitytoken: login.refresh_token } } }));
    const auth = createAuthenticator({ env: emptyEnv(scratch), dockerConfigDir: dockerDir });
    expect((await get(registry, '/v2/auren/api/tags/list', auth, ['repository:auren/api:pull'])).status).toBe(404);
    expect(issuer.issued.at(-1)).toMatchObject({ grantType: 'refresh_token', subject: 'ci' });
    expect(auth.secrets()).toContain(login.refresh_token);
  });

  it('expires cached tokens using expires_in minus a margin', async () => {
    let clock = Date.now();
    const auth = createAuthenticator({ credentials: { username: 'ci', password }, now: () => clock });
    await get(registry, '/v2/', auth);
    expect(auth.cached(registry.host, [])).toMatch(/^Bearer /);
    clock += (300 - 29) * 1000; // issuer lifetime 300 s, margin 30 s
    expect(auth.cached(registry.host, [])).toBeUndefined();
  });

  it('is accepted by a standard client (skopeo) too', async () => {
    const layout = join(scratch, 'layout');
    await exec('umoci', ['init', '--layout', layout]);
    await exec('umoci', ['new', '--image', `${layout}:tiny`]);
    const creds = `ci:${password}`;
    await exec('skopeo', ['copy', '--dest-creds', creds, '--dest-tls-verify=false', `oci:${layout}:tiny`, `docker://${registry.host}/auren/tiny:1`], { redact: [password] });
    const { stdout } = await exec('skopeo', ['inspect', '--raw', '--creds', creds, '--tls-verify=false', `docker://${registry.host}/auren/tiny:1`], { redact: [password] });
    expect(JSON.parse(stdout).schemaVersion).toBe(2);
    // And our authenticator can read what skopeo pushed.
    const auth = createAuthenticator({ credentials: { username: 'ci', password } });
    expect((await get(registry, '/v2/auren/tiny/tags/list', auth, ['repository:auren/tiny:pull'])).status).toBe(200);
  });
});

describe('token registry verifying an x5c certificate chain', () => {
  it('accepts tokens whose header carries x5c instead of kid', async () => {
    const issuer = await startTokenIssuer({ keyReference: 'x5c', anonymous: [{ name: '*', actions: ['pull'] }] });
    const registry = await startTestRegistry({ extraConfig: issuer.yaml });
    try {
      const auth = createAuthenticator({ env: emptyEnv(scratch) });
      expect((await get(registry, '/v2/any/thing/tags/list', auth, ['repository:any/thing:pull'])).status).toBe(404);
      expect(issuer.issued[0]).toMatchObject({ subject: '', grantType: 'anonymous' });
    } finally {
      await registry.stop();
      await issuer.stop();
    }
  });
});
