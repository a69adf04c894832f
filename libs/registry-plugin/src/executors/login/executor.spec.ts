import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { loginCredentials } from '../../lib/providers/login';
import { writeHtpasswd, type HtpasswdFixture } from '../../testing/htpasswd.testing';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import loginExecutor from './executor';
import schema from './schema.json';

/** Login against a real htpasswd-protected CNCF distribution registry. */
const USER = 'auren-ci';
const PASSWORD = 'S3cret-htpasswd-Passw0rd';

let registry: TestRegistry;
let work: string;
const output: string[] = [];
const spies: jest.SpyInstance[] = [];

let htpasswd: HtpasswdFixture | undefined;

beforeAll(async () => {
  htpasswd = await writeHtpasswd({ [USER]: PASSWORD });
  registry = await startTestRegistry({ extraConfig: htpasswd.yaml });
});
afterAll(async () => {
  await registry?.stop();
  await htpasswd?.remove();
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'auren-login-'));
  output.length = 0;
  const capture = (...args: unknown[]) => {
    output.push(args.map(String).join(' '));
  };
  for (const method of ['info', 'warn', 'error', 'verbose'] as const) {
    spies.push(jest.spyOn(logger, method).mockImplementation(capture));
  }
  spies.push(jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (capture(chunk), true)));
  spies.push(jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (capture(chunk), true)));
});
afterEach(async () => {
  for (const spy of spies.splice(0)) spy.mockRestore();
  process.exitCode = 0;
  await rm(work, { recursive: true, force: true });
});

function context(): ExecutorContext {
  return {
    root: work,
    cwd: work,
    isVerbose: false,
    projectName: 'registry',
    nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: { registry: registry.host } }] },
    projectsConfigurations: { version: 2, projects: {} },
    projectGraph: { nodes: {}, dependencies: {} },
  } as unknown as ExecutorContext;
}

const stdin = (text: string) => Readable.from([Buffer.from(text)]);
const cleanEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: work, ...extra });
const configPath = () => join(work, 'docker', 'config.json');
const noSecretPrinted = () => output.filter((line) => line.includes(PASSWORD) || line.includes(Buffer.from(`${USER}:${PASSWORD}`).toString('base64')));

describe('login executor', () => {
  it('checks the credentials, then writes config.json with mode 0600 and the right auth', async () => {
    const result = await loginExecutor(
      { username: USER, passwordStdin: true, dockerConfig: 'docker' },
      context(),
      { stdin: stdin(`${PASSWORD}\n`), env: cleanEnv() },
    );
    expect(result).toEqual({ success: true });
    const info = await stat(configPath());
    expect(info.mode & 0o777).toBe(0o600);
    const config = JSON.parse(await readFile(configPath(), 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Object.keys(config.auths)).toEqual([registry.host]);
    expect(config.auths[registry.host].auth === Buffer.from(`${USER}:${PASSWORD}`).toString('base64')).toBe(true);
    expect(output.join('\n')).toContain(`logged in to ${registry.host} as ${USER}`);
    expect(noSecretPrinted()).toEqual([]);
  });

  it('a wrong password is a clear error and nothing is written', async () => {
    const wrong = 'Wrong-Password-123';
    const result = await loginExecutor(
      { username: USER, passwordStdin: true, dockerConfig: 'docker' },
      context(),
      { stdin: stdin(wrong), env: cleanEnv() },
    );
    expect(result).toEqual({ success: false });
    await expect(stat(configPath())).rejects.toMatchObject({ code: 'ENOENT' });
    const text = output.join('\n');
    expect(text).toContain(`rejected the credentials of user "${USER}"`);
    expect(text).toContain('nothing was stored');
    expect(text.includes(wrong)).toBe(false);
    expect(noSecretPrinted()).toEqual([]);
  });

  it('logs in from AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD in CI', async () => {
    const result = await loginExecutor(
      { dockerConfig: 'docker' },
      context(),
      { stdin: stdin(''), env: cleanEnv({ AUREN_REGISTRY_USERNAME: USER, AUREN_REGISTRY_PASSWORD: PASSWORD }) },
    );
    expect(result).toEqual({ success: true });
    const config = JSON.parse(await readFile(configPath(), 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(config.auths[registry.host].auth === Buffer.from(`${USER}:${PASSWORD}`).toString('base64')).toBe(true);
    expect(output.join('\n')).toContain('AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD');
    expect(noSecretPrinted()).toEqual([]);
  });

  it('without any credentials says which variables to set', async () => {
    const result = await loginExecutor({ dockerConfig: 'docker' }, context(), { stdin: stdin(''), env: cleanEnv() });
    expect(result).toEqual({ success: false });
    expect(output.join('\n')).toContain('AUREN_REGISTRY_PASSWORD');
  });

  it('schema: camelCase options with descriptions, no extra properties', () => {
    expect(schema.additionalProperties).toBe(false);
    for (const [name, property] of Object.entries(schema.properties)) {
      expect(name).toMatch(/^[a-z][a-zA-Z]*$/);
      expect((property as { description?: string }).description?.length).toBeGreaterThan(20);
    }
  });
});

describe('loginCredentials', () => {
  const TOKEN = 'dop_v1_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
  it.each([
    ['DigitalOcean token on stdin is user and password', 'registry.digitalocean.com', { password: TOKEN }, {}, [TOKEN, TOKEN, 'stdin']],
    ['DigitalOcean from DIGITALOCEAN_ACCESS_TOKEN', 'registry.digitalocean.com', {}, { DIGITALOCEAN_ACCESS_TOKEN: TOKEN }, [TOKEN, TOKEN, 'DIGITALOCEAN_ACCESS_TOKEN']],
    ['DigitalOcean from AUREN_REGISTRY_PASSWORD alone', 'registry.digitalocean.com', {}, { AUREN_REGISTRY_PASSWORD: TOKEN }, [TOKEN, TOKEN, 'AUREN_REGISTRY_PASSWORD']],
    ['ghcr.io from GITHUB_TOKEN + GITHUB_ACTOR', 'ghcr.io', {}, { GITHUB_TOKEN: 'ghp_x', GITHUB_ACTOR: 'octo' }, ['octo', 'ghp_x', 'GITHUB_TOKEN']],
    ['ghcr.io token on stdin', 'ghcr.io', { password: 'ghp_y' }, {}, ['x-access-token', 'ghp_y', 'stdin']],
    ['Docker Hub from DOCKERHUB_*', 'docker.io', {}, { DOCKERHUB_USERNAME: 'auren', DOCKERHUB_TOKEN: 'dckr_pat_z' }, ['auren', 'dckr_pat_z', 'DOCKERHUB_USERNAME/DOCKERHUB_TOKEN']],
    ['self-hosted with --username and stdin', '127.0.0.1:5000', { username: 'me', password: 'pw' }, {}, ['me', 'pw', 'stdin']],
  ] as const)('%s', (_name, host, input, env, [username, password, source]) => {
    expect(loginCredentials(host, { ...input, env: { ...env } })).toEqual({ username, password, source });
  });

  it.each([
    ['Docker Hub without a user name', 'docker.io', { password: 'x' }],
    ['self-hosted without a user name', '127.0.0.1:5000', { password: 'x' }],
    ['an empty password on stdin', '127.0.0.1:5000', { username: 'me', password: '' }],
  ])('refuses %s', (_name, host, input) => {
    expect(() => loginCredentials(host, { ...input, env: {} })).toThrow();
  });
});
