import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveCredentials } from './credentials';
import { dockerSandboxes } from './fake-helper.testing';
import { removeCredentials, saveCredentials } from './store';
import { credentialHelpers as helpers } from '../../exec/credential-helpers';

const sandbox = dockerSandboxes('auren-store-spec-');

describe('saveCredentials to config.json', () => {
  it('creates config.json with mode 0600 and round-trips through resolveCredentials', async () => {
    const { env, dockerDir, read } = await sandbox();
    const saved = await saveCredentials('127.0.0.1:5000', { username: 'ci', password: 'p@ss:word' }, { helpers, env });
    expect(saved).toEqual({ storage: 'config-file', configPath: join(dockerDir, 'config.json'), key: '127.0.0.1:5000' });
    expect((await stat(saved.configPath)).mode & 0o777).toBe(0o600);
    expect(await read()).toEqual({ auths: { '127.0.0.1:5000': { auth: Buffer.from('ci:p@ss:word').toString('base64') } } });
    expect(await resolveCredentials('127.0.0.1:5000', { helpers, env })).toMatchObject({ username: 'ci', password: 'p@ss:word' });
    expect(await readdir(dockerDir)).toEqual(['config.json']); // no temp file left behind
  });

  it('keeps other entries and settings, replaces aliases of the same registry', async () => {
    const { env, read } = await sandbox({
      auths: { 'quay.io': { auth: 'cXVheTp4' }, 'https://ghcr.io': { auth: 'b2xkOm9sZA==' } },
      psFormat: 'table {{.ID}}',
      currentContext: 'default',
    });
    await saveCredentials('ghcr.io', { username: 'octo', password: 'ghp_new' }, { helpers, env });
    expect(await read()).toEqual({
      auths: { 'quay.io': { auth: 'cXVheTp4' }, 'ghcr.io': { auth: Buffer.from('octo:ghp_new').toString('base64') } },
      psFormat: 'table {{.ID}}',
      currentContext: 'default',
    });
  });

  it('uses the Docker Hub v1 key', async () => {
    const { env, read } = await sandbox();
    const saved = await saveCredentials('docker.io', { username: 'hub', password: 'dckr_pat' }, { helpers, env });
    expect(saved.key).toBe('https://index.docker.io/v1/');
    expect(Object.keys((await read()).auths)).toEqual(['https://index.docker.io/v1/']);
    expect(await resolveCredentials('registry-1.docker.io', { helpers, env })).toMatchObject({ username: 'hub' });
  });

  it('honours dockerConfigDir', async () => {
    const { env, dir } = await sandbox();
    const other = join(dir, 'explicit-dir');
    const saved = await saveCredentials('r.example.com', { username: 'u', password: 'p' }, { helpers, env, dockerConfigDir: other });
    expect(saved.configPath).toBe(join(other, 'config.json'));
  });

  it('rejects a user name with ":"', async () => {
    const { env } = await sandbox();
    await expect(saveCredentials('r', { username: 'a:b', password: 'p' }, { helpers, env })).rejects.toThrow('must not contain ":"');
  });
});

describe('saveCredentials through a credential helper', () => {
  it.each([
    ['credsStore', { credsStore: 'test' }, {}],
    ['credHelpers[host]', { credHelpers: { 'ghcr.io': 'test' } }, {}],
    ['an explicit helper option', {}, { helper: 'test' }],
  ])('stores via %s and leaves only an empty entry in config.json', async (_name, config, extra) => {
    const { env, read, helper } = await sandbox({ ...config, auths: { 'ghcr.io': { auth: Buffer.from('old:plaintext').toString('base64') } } });
    const saved = await saveCredentials('ghcr.io', { username: 'octo', password: 'ghp_helper_secret' }, { helpers, env, ...extra });
    expect(saved).toMatchObject({ storage: 'helper', helper: 'test', key: 'ghcr.io' });
    const text = JSON.stringify(await read());
    expect(text).not.toContain('ghp_helper_secret');
    expect((await read()).auths).toEqual({ 'ghcr.io': {} });
    expect(JSON.parse(await readFile(join(helper.store, 'ghcr.io.json'), 'utf8'))).toEqual({ ServerURL: 'ghcr.io', Username: 'octo', Secret: 'ghp_helper_secret' });
    if (!('helper' in extra)) {
      expect(await resolveCredentials('ghcr.io', { helpers, env })).toMatchObject({ username: 'octo', password: 'ghp_helper_secret', source: 'docker-credential-test' });
    }
  });
});

describe('removeCredentials', () => {
  it('removes the inline entry and its aliases, keeping the rest', async () => {
    const { env, read } = await sandbox({ auths: { 'ghcr.io': { auth: 'eDp5' }, 'https://ghcr.io/v2/': { auth: 'eDp5' }, 'quay.io': { auth: 'eDp5' } } });
    expect(await removeCredentials('ghcr.io', { helpers, env })).toMatchObject({ removed: true });
    expect((await read()).auths).toEqual({ 'quay.io': { auth: 'eDp5' } });
    expect(await removeCredentials('ghcr.io', { helpers, env })).toMatchObject({ removed: false });
  });

  it('erases from the helper', async () => {
    const { env, helper, read } = await sandbox({ credsStore: 'test' });
    await saveCredentials('docker.io', { username: 'hub', password: 'secret-hub' }, { helpers, env });
    expect(await removeCredentials('index.docker.io', { helpers, env })).toEqual({ removed: true, configPath: expect.any(String), helper: 'test' });
    expect(await readdir(helper.store)).toEqual(['calls.log']);
    expect((await read()).auths).toEqual({});
    expect(await resolveCredentials('docker.io', { helpers, env })).toBeUndefined();
  });
});
