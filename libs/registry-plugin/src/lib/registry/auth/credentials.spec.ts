import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AurenError, formatError } from '../../errors/errors';
import { resolveCredentials } from './credentials';
import { dockerAuthKey, registryHost } from './docker-config';
import { dockerSandboxes } from './fake-helper.testing';
import { credentialHelpers as helpers } from '../../exec/credential-helpers';

const b64 = (s: string) => Buffer.from(s).toString('base64');

const sandbox = dockerSandboxes('auren-creds-spec-', { dockerDir: 'always' });

describe('registry keys', () => {
  it.each([
    ['docker.io', 'https://index.docker.io/v1/'],
    ['registry-1.docker.io', 'https://index.docker.io/v1/'],
    ['index.docker.io', 'https://index.docker.io/v1/'],
    ['ghcr.io', 'ghcr.io'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['Registry.Example.com', 'registry.example.com'],
  ])('dockerAuthKey(%s) = %s', (registry, key) => expect(dockerAuthKey(registry)).toBe(key));

  it.each([
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['http://127.0.0.1:5000', '127.0.0.1:5000'],
    ['registry.example.com/v2/', 'registry.example.com'],
  ])('registryHost(%s) = %s', (value, host) => expect(registryHost(value)).toBe(host));
});

describe('resolveCredentials from the environment', () => {
  const cases: [string, string, NodeJS.ProcessEnv, { username: string; password: string; source: string } | undefined][] = [
    ['AUREN_* for any registry', '127.0.0.1:5000', { AUREN_REGISTRY_USERNAME: 'u', AUREN_REGISTRY_PASSWORD: 'p' }, { username: 'u', password: 'p', source: 'AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD' }],
    ['AUREN_* matching AUREN_REGISTRY', 'ghcr.io', { AUREN_REGISTRY: 'ghcr.io/acme', AUREN_REGISTRY_USERNAME: 'u', AUREN_REGISTRY_PASSWORD: 'p' }, { username: 'u', password: 'p', source: 'AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD' }],
    ['AUREN_* not sent to another registry', 'docker.io', { AUREN_REGISTRY: 'ghcr.io/acme', AUREN_REGISTRY_USERNAME: 'u', AUREN_REGISTRY_PASSWORD: 'p' }, undefined],
    ['DigitalOcean token as user and password', 'registry.digitalocean.com', { DIGITALOCEAN_ACCESS_TOKEN: 'dop_v1_x' }, { username: 'dop_v1_x', password: 'dop_v1_x', source: 'DIGITALOCEAN_ACCESS_TOKEN' }],
    ['DigitalOcean token only for DOCR', 'ghcr.io', { DIGITALOCEAN_ACCESS_TOKEN: 'dop_v1_x' }, undefined],
    ['GitHub token + actor', 'ghcr.io', { GITHUB_TOKEN: 'ghs_x', GITHUB_ACTOR: 'octo' }, { username: 'octo', password: 'ghs_x', source: 'GITHUB_TOKEN' }],
    ['GitHub token without actor', 'ghcr.io', { GITHUB_TOKEN: 'ghs_x' }, { username: 'x-access-token', password: 'ghs_x', source: 'GITHUB_TOKEN' }],
    ['Docker Hub via any alias', 'registry-1.docker.io', { DOCKERHUB_USERNAME: 'me', DOCKERHUB_TOKEN: 'dckr_pat' }, { username: 'me', password: 'dckr_pat', source: 'DOCKERHUB_USERNAME/DOCKERHUB_TOKEN' }],
    ['AUREN_* wins over provider variables', 'ghcr.io', { GITHUB_TOKEN: 'ghs_x', AUREN_REGISTRY_USERNAME: 'u', AUREN_REGISTRY_PASSWORD: 'p' }, { username: 'u', password: 'p', source: 'AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD' }],
    ['nothing', 'ghcr.io', {}, undefined],
  ];
  it.each(cases)('%s', async (_name, registry, vars, expected) => {
    const { env } = await sandbox();
    expect(await resolveCredentials(registry, { helpers, env: { ...env, ...vars } })).toEqual(expected);
  });

  it('insists on both AUREN variables, without printing the one that is set', async () => {
    const { env } = await sandbox();
    const error = await resolveCredentials('ghcr.io', { helpers, env: { ...env, AUREN_REGISTRY_PASSWORD: 'only-the-pass' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AurenError);
    expect(formatError(error)).toContain('AUREN_REGISTRY_USERNAME is not set');
    expect(formatError(error)).not.toContain('only-the-pass');
  });
});

describe('resolveCredentials from docker config.json', () => {
  const cases: [string, string, unknown, { username: string; password: string; identityToken?: string } | undefined][] = [
    ['base64 auth', '127.0.0.1:5000', { auths: { '127.0.0.1:5000': { auth: b64('ci:pa:ss') } } }, { username: 'ci', password: 'pa:ss' }],
    ['username/password fields', 'ghcr.io', { auths: { 'ghcr.io': { username: 'u', password: 'p' } } }, { username: 'u', password: 'p' }],
    ['key with scheme and path', 'registry.example.com', { auths: { 'https://registry.example.com/v2/': { auth: b64('u:p') } } }, { username: 'u', password: 'p' }],
    ['Docker Hub v1 key for docker.io', 'docker.io', { auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } }, { username: 'hub', password: 'pw' }],
    ['Docker Hub v1 key for registry-1', 'registry-1.docker.io', { auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } }, { username: 'hub', password: 'pw' }],
    ['identity token', 'r.example.com', { auths: { 'r.example.com': { auth: b64('u:'), identitytoken: 'refresh-xyz' } } }, { username: 'u', password: 'refresh-xyz', identityToken: 'refresh-xyz' }],
    ['other hosts only', 'ghcr.io', { auths: { 'quay.io': { auth: b64('u:p') } } }, undefined],
    ['empty entry (left by a credsStore login)', 'ghcr.io', { auths: { 'ghcr.io': {} } }, undefined],
    ['no config.json', 'ghcr.io', undefined, undefined],
  ];
  it.each(cases)('%s', async (_name, registry, config, expected) => {
    const { env } = await sandbox(config);
    const found = await resolveCredentials(registry, { helpers, env });
    expect(found && { username: found.username, password: found.password, ...(found.identityToken ? { identityToken: found.identityToken } : {}) }).toEqual(expected);
  });

  it('honours dockerConfigDir over $DOCKER_CONFIG', async () => {
    const a = await sandbox({ auths: { 'ghcr.io': { auth: b64('from:env') } } });
    const b = await sandbox({ auths: { 'ghcr.io': { auth: b64('from:option') } } });
    expect(await resolveCredentials('ghcr.io', { helpers, env: a.env, dockerConfigDir: b.dockerDir })).toMatchObject({ username: 'from', password: 'option' });
  });

  it('rejects a broken config.json without echoing it', async () => {
    const { env, dockerDir } = await sandbox();
    await writeFile(join(dockerDir, 'config.json'), '{"auths": {"x": {"auth": "c2VjcmV0LXZhbHVl"');
    const error = (await resolveCredentials('x', { helpers, env }).catch((e: unknown) => e)) as AurenError;
    expect(error.kind).toBe('config');
    expect(error.message).toContain('is not valid JSON');
    expect(error.message).not.toContain('c2VjcmV0');
  });
});

describe('resolveCredentials through docker-credential helpers', () => {
  it('uses credHelpers[host] with the real helper protocol', async () => {
    const { env, helper } = await sandbox({ credHelpers: { 'ghcr.io': 'test' }, auths: { 'ghcr.io': { auth: b64('inline:ignored') } } });
    await helper.put('ghcr.io', 'octo', 'ghp_secret');
    expect(await resolveCredentials('ghcr.io', { helpers, env })).toEqual({ username: 'octo', password: 'ghp_secret', source: 'docker-credential-test' });
    expect(await readFile(helper.callsLog, 'utf8')).toBe('get ghcr.io\n');
  });

  it('asks credsStore with the Docker Hub v1 key', async () => {
    const { env, helper } = await sandbox({ credsStore: 'test' });
    await helper.put('https://index.docker.io/v1/', 'hub', 'dckr_pat_secret');
    expect(await resolveCredentials('docker.io', { helpers, env })).toMatchObject({ username: 'hub', password: 'dckr_pat_secret' });
  });

  it('treats "credentials not found" as none, then falls back to the inline entry', async () => {
    const { env } = await sandbox({ credsStore: 'test' });
    expect(await resolveCredentials('quay.io', { helpers, env })).toBeUndefined();
    const withInline = await sandbox({ credsStore: 'test', auths: { 'quay.io': { auth: b64('u:p') } } });
    expect(await resolveCredentials('quay.io', { helpers, env: withInline.env })).toMatchObject({ username: 'u', password: 'p' });
  });

  it('maps the <token> user name to an identity token', async () => {
    const { env, helper } = await sandbox({ credHelpers: { 'r.example.com': 'test' } });
    await helper.put('r.example.com', '<token>', 'refresh-abc');
    expect(await resolveCredentials('r.example.com', { helpers, env })).toMatchObject({ identityToken: 'refresh-abc', username: '' });
  });

  it('reports a failing helper as an auth error with a hint', async () => {
    const { env } = await sandbox({ credHelpers: { 'broken.example.com': 'test' } });
    const error = (await resolveCredentials('broken.example.com', { helpers, env }).catch((e: unknown) => e)) as AurenError;
    expect(error.kind).toBe('auth');
    expect(error.message).toContain('docker-credential-test get failed for broken.example.com');
    expect(error.hint).toContain('AUREN_REGISTRY_PASSWORD');
  });

  it('reports a missing helper binary', async () => {
    const { env } = await sandbox({ credsStore: 'does-not-exist' });
    const error = (await resolveCredentials('ghcr.io', { helpers, env }).catch((e: unknown) => e)) as AurenError;
    expect(error.kind).toBe('auth');
    expect(error.message).toContain('`docker-credential-does-not-exist` is not on PATH');
    expect(error.hint).toContain('AUREN_REGISTRY_USERNAME');
  });

  it('prefers environment variables over the helper', async () => {
    const { env, helper } = await sandbox({ credsStore: 'test' });
    await helper.put('ghcr.io', 'octo', 'from-helper');
    expect(await resolveCredentials('ghcr.io', { helpers, env: { ...env, GITHUB_TOKEN: 'from-env' } })).toMatchObject({ password: 'from-env' });
  });
});
