// @auren-test-tools cosign trivy oras crane (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * buildah, cosign, trivy, oras and crane against real registries that require a login: one with
 * a user name and password (htpasswd), one with a token service that hands out identity tokens.
 * Each tool reads its credentials from a private file that is gone once the tool is done, whether
 * it succeeded or failed; the secret is never on its command line nor in its environment.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeHtpasswd } from '../../testing/htpasswd.testing';
import { type TestRegistry, startTestRegistries } from '../../testing/registry-server.testing';
import { startTokenIssuer, type TokenIssuer } from '../../testing/token-issuer.testing';
import { normalizeOptions } from '../config/options';
import { exec, which, type ExecOptions, type ExecResult } from '../exec/exec';
import { createAuthenticator } from '../registry/auth';
import { DOCKER_HUB_AUTH_KEY } from '../registry/auth/docker-config';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import { executePush, planPush } from '../registry/push';
import { tarOf, writeTestLayout } from '../registry/layout.testing';
import { resolveScanDatabase } from '../scanners/database';
import { prepareTrivyDatabase, publishTrivyDb } from '../scanners/trivy-db';
import {
  cosignRegistryAccess,
  withBuilderAccess,
  withCosignAccess,
  withCraneAccess,
  withOrasAccess,
  withTrivyAccess,
  type ToolCredentials,
} from './child-tools';
import { credentialsFor } from './connect';

const USER = 'ci';
const PASSWORD = 'child-tools-Secret-7f3a';
/** What would give the password away: itself, or docker's `auth` value that holds it. */
const LEAKS = [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')];

let work: string;
let issuer: TokenIssuer;
let basic: TestRegistry;
let token: TestRegistry;
/** The product's environment: our own variables hold the password, as in CI. */
let productEnv: NodeJS.ProcessEnv;

type Access = <T>(registry: string, credentials: ToolCredentials | undefined, env: NodeJS.ProcessEnv, body: (env: NodeJS.ProcessEnv) => Promise<T>) => Promise<T>;

interface Tool {
  access: Access;
  /** The file the tool reads, and the folder that holds it. */
  file: string;
  folder(env: NodeJS.ProcessEnv): string;
  /** A command that needs the registry's permission: `repository` is `auren/app` or one that does not exist. */
  argv(host: string, repository: string, env: NodeJS.ProcessEnv): Promise<string[]>;
}

const TOOLS: Record<string, Tool> = {
  buildah: {
    access: withBuilderAccess,
    file: 'auth.json',
    folder: (env) => dirname(env.REGISTRY_AUTH_FILE!),
    argv: async (host, repository) => [
      'buildah', '--root', join(work, 'buildah', 'root'), '--runroot', join(work, 'buildah', 'run'), '--storage-driver', 'vfs',
      'pull', '--quiet', '--tls-verify=false', `docker://${host}/${repository}:v1`,
    ],
  },
  cosign: {
    access: withCosignAccess,
    file: 'config.json',
    folder: (env) => env.DOCKER_CONFIG!,
    argv: async (host, repository, env) => ['cosign', 'tree', ...(await cosignRegistryAccess(host, [], { env })).flags, `${host}/${repository}:v1`],
  },
  trivy: {
    access: withTrivyAccess,
    file: 'config.json',
    folder: (env) => env.DOCKER_CONFIG!,
    argv: async (host, repository) => [
      'trivy', 'image', '--download-db-only', '--db-repository', `${host}/${repository === 'auren/app' ? 'auren/trivy-db' : repository}`,
      '--cache-dir', await mkdtemp(join(work, 'trivy-cache-')), '--quiet', '--skip-version-check', '--disable-telemetry',
    ],
  },
  oras: {
    access: withOrasAccess,
    file: 'config.json',
    folder: (env) => env.DOCKER_CONFIG!,
    argv: async (host, repository) => ['oras', 'manifest', 'fetch', '--plain-http', `${host}/${repository}:v1`],
  },
  crane: {
    access: withCraneAccess,
    file: 'config.json',
    folder: (env) => env.DOCKER_CONFIG!,
    argv: async (host, repository) => ['crane', 'digest', '--insecure', `${host}/${repository}:v1`],
  },
};
const TOOL_NAMES = Object.keys(TOOLS);

interface Call {
  argv: string[];
  /** The environment the child gets: exec starts it with ours under the one it is given. */
  env: NodeJS.ProcessEnv;
}

/** The exec wrapper, recording each command and environment it was handed. */
function recordingExec(calls: Call[]) {
  return (file: string, args: string[], options: ExecOptions): Promise<ExecResult> => {
    calls.push({ argv: [file, ...args], env: { ...process.env, ...options.env } });
    return exec(file, args, { ...options, redact: LEAKS });
  };
}

function expectNoSecret(calls: Call[]): void {
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls) {
    const environment = Object.entries(call.env).filter(([, value]) => value !== undefined).map(([key, value]) => `${key}=${value}`).join('\n');
    for (const leak of LEAKS) {
      expect(call.argv.join(' ')).not.toContain(leak);
      expect(environment).not.toContain(leak);
    }
  }
}

interface SeenFile {
  folder: string;
  folderMode: number;
  fileMode: number;
  entries: string[];
  auths: Record<string, Record<string, string>>;
}

async function look(tool: Tool, env: NodeJS.ProcessEnv): Promise<SeenFile> {
  const folder = tool.folder(env);
  const file = join(folder, tool.file);
  return {
    folder,
    folderMode: (await stat(folder)).mode & 0o777,
    fileMode: (await stat(file)).mode & 0o777,
    entries: await readdir(folder),
    auths: JSON.parse(await readFile(file, 'utf8')).auths,
  };
}

async function pushApp(registry: TestRegistry, client: RegistryClient): Promise<void> {
  const image = await writeTestLayout({ platforms: ['linux/amd64'], dir: await mkdtemp(join(work, 'layout-')) });
  await executePush(client, await planPush(client, image.layout, { repository: 'auren/app', tags: ['v1'] }));
}

/** trivy checks only that the database layer unpacks to metadata.json and trivy.db. */
async function publishDatabase(client: RegistryClient): Promise<void> {
  const metadata = JSON.stringify({ Version: 2, NextUpdate: '2099-01-01T00:00:00Z', UpdatedAt: '2026-01-01T00:00:00Z' });
  const layer = gzipSync(await tarOf({ 'metadata.json': metadata, 'trivy.db': '' }));
  await publishTrivyDb(client, 'auren/trivy-db', { layer, updatedAt: '2026-01-01T00:00:00Z', advisories: 0 });
}

function authedClient(registry: TestRegistry): RegistryClient {
  return createRegistryClient({ registry: registry.host, authenticator: createAuthenticator({ credentials: { username: USER, password: PASSWORD }, env: {} }) });
}

beforeAll(async () => {
  for (const tool of ['buildah', ...TOOL_NAMES.filter((t) => t !== 'buildah')]) {
    if (!(await which(tool))) throw new Error(`${tool} is not on PATH: run \`bash tools/scripts/setup.sh --test-tools\` and put tools/.bin first on PATH`);
  }
  work = await mkdtemp(join(tmpdir(), 'auren-child-tools-'));
  const htpasswd = await writeHtpasswd({ [USER]: PASSWORD }, { dir: work });
  issuer = await startTokenIssuer({ users: { [USER]: { password: PASSWORD, grants: [{ name: 'auren/*', actions: ['pull', 'push'] }] } } });
  [basic, token] = await startTestRegistries({ extraConfig: htpasswd.yaml }, { extraConfig: issuer.yaml.replace('realm: http://127.0.0.1:', 'realm: http://localhost:') });
  for (const registry of [basic, token]) {
    const client = authedClient(registry);
    await pushApp(registry, client);
    await publishDatabase(client);
  }
  const dockerConfig = join(work, 'docker');
  await mkdir(dockerConfig);
  await writeFile(join(dockerConfig, 'config.json'), '{"auths":{}}\n');
  productEnv = {
    PATH: process.env.PATH,
    HOME: work,
    XDG_CONFIG_HOME: join(work, 'config'),
    XDG_CACHE_HOME: join(work, 'cache'),
    DOCKER_CONFIG: dockerConfig,
    REGISTRY_AUTH_FILE: undefined,
    AUREN_REGISTRY_USERNAME: USER,
    AUREN_REGISTRY_PASSWORD: PASSWORD,
  };
}, 120_000);

afterAll(async () => {
  await Promise.all([basic?.stop(), token?.stop(), issuer?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a registry that requires a user name and password', () => {
  const credentials = () => credentialsFor(basic.host, normalizeOptions({ registry: basic.host }, {}), productEnv);

  it.each(TOOL_NAMES)('refuses %s without credentials (the control: a login is needed)', async (name) => {
    const tool = TOOLS[name];
    const anonymous = { ...productEnv, AUREN_REGISTRY_USERNAME: undefined, AUREN_REGISTRY_PASSWORD: undefined };
    await expect(exec(...split(await tool.argv(basic.host, 'auren/app', anonymous)), { env: anonymous })).rejects.toThrow();
  }, 60_000);

  it.each(TOOL_NAMES)('%s reads them from a 0600 file alone in a 0700 folder, never from argv or its environment', async (name) => {
    const tool = TOOLS[name];
    const calls: Call[] = [];
    const run = recordingExec(calls);
    let seen: SeenFile | undefined;
    await tool.access(basic.host, await credentials(), productEnv, async (env) => {
      seen = await look(tool, env);
      await run(...split(await tool.argv(basic.host, 'auren/app', env)), { env });
    });
    expect(seen).toMatchObject({ folderMode: 0o700, fileMode: 0o600, entries: [tool.file] });
    expect(Object.keys(seen!.auths)).toEqual([basic.host]);
    expectNoSecret(calls);
    expect(existsSync(seen!.folder)).toBe(false);
  }, 60_000);

  it.each(TOOL_NAMES)('removes the file of %s when the tool fails', async (name) => {
    const tool = TOOLS[name];
    let folder: string | undefined;
    const failing = tool.access(basic.host, await credentials(), productEnv, async (env) => {
      folder = tool.folder(env);
      await exec(...split(await tool.argv(basic.host, 'auren/missing', env)), { env });
    });
    await expect(failing).rejects.toThrow();
    expect(folder && existsSync(folder)).toBe(false);
  }, 60_000);

  it('trivy downloads the served database with them, and the scans it prepares get no secret (prepareTrivyDatabase)', async () => {
    const config = normalizeOptions({ registry: basic.host, namespace: 'auren' }, {});
    const database = await resolveScanDatabase(config, 'trivy', productEnv);
    expect(database).toMatchObject({ kind: 'registry', reference: `${basic.host}/auren/trivy-db` });
    const cacheDir = await mkdtemp(join(work, 'trivy-prepared-'));
    const prepared = await prepareTrivyDatabase({ binaryPath: 'trivy', cacheDir, database, env: productEnv, cachedDb: async () => 'none' });
    expect(existsSync(join(cacheDir, 'db', 'metadata.json'))).toBe(true);
    expect(prepared.env.DOCKER_CONFIG).toBe(productEnv.DOCKER_CONFIG);
    expect(Object.keys(prepared.env).filter((key) => key.startsWith('TRIVY_'))).toEqual([]);
  }, 60_000);
});

describe('a registry whose token service hands out identity tokens', () => {
  let credentials: ToolCredentials | undefined;
  let env: NodeJS.ProcessEnv;
  // go-containerregistry refuses a token realm at a private IP address, and oras one that is a
  // loopback address unless the registry is on that host too: both tools take this pair.
  const registry = () => `localhost:${token.port}`;
  beforeAll(async () => {
    // What `docker login` keeps for such a registry: the refresh token, no password.
    const form = new URLSearchParams({ grant_type: 'password', username: USER, password: PASSWORD, service: issuer.service, client_id: 'auren-test', scope: '' });
    const answer = (await (await fetch(issuer.realm, { method: 'POST', body: form })).json()) as { refresh_token: string };
    const dockerConfig = join(work, 'docker-token');
    await mkdir(dockerConfig);
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [registry()]: { identitytoken: answer.refresh_token } } }));
    env = { ...productEnv, DOCKER_CONFIG: dockerConfig, AUREN_REGISTRY_USERNAME: undefined, AUREN_REGISTRY_PASSWORD: undefined };
    credentials = await credentialsFor(registry(), normalizeOptions({ registry: registry() }, {}), env);
  });

  it('resolves to the identity token, without a user name', () => {
    expect(credentials).toMatchObject({ username: '', identityToken: expect.stringMatching(/^[0-9a-f]{48}$/) });
  });

  it.each(TOOL_NAMES)('%s gets the identity token, and its tokens are issued for it, never for the password', async (name) => {
    const tool = TOOLS[name];
    const from = issuer.issued.length;
    let seen: SeenFile | undefined;
    await tool.access(registry(), credentials, env, async (toolEnv) => {
      seen = await look(tool, toolEnv);
      await exec(...split(await tool.argv(registry(), 'auren/app', toolEnv)), { env: toolEnv });
    });
    expect(seen!.auths[registry()].identitytoken).toBe(credentials!.identityToken);
    const issued = issuer.issued.slice(from);
    expect(issued.length).toBeGreaterThan(0);
    expect(new Set(issued.map((t) => `${t.grantType} ${t.subject}`))).toEqual(new Set([`refresh_token ${USER}`]));
  }, 60_000);
});

describe('the key each tool finds its registry under', () => {
  const credentials: ToolCredentials = { username: USER, password: PASSWORD };

  it.each([
    ['docker.io', DOCKER_HUB_AUTH_KEY],
    ['index.docker.io', DOCKER_HUB_AUTH_KEY],
    ['registry-1.docker.io', DOCKER_HUB_AUTH_KEY],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['Registry.Example.com:8443', 'registry.example.com:8443'],
  ])('%s is %s in every tool file', async (registry, key) => {
    for (const tool of Object.values(TOOLS)) {
      const seen = await tool.access(registry, credentials, productEnv, (env) => look(tool, env));
      expect(Object.keys(seen.auths)).toEqual([key]);
    }
  });

  it.each(['docker.io', '127.0.0.1:5000'])('buildah and go-containerregistry (crane, as cosign and trivy) both find %s', async (registry) => {
    const buildahUser = await withBuilderAccess(registry, credentials, productEnv, (env) => exec('buildah', ['login', '--get-login', registry], { env }));
    expect(buildahUser.stdout.trim()).toBe(USER);
    const crane = await withCraneAccess(registry, credentials, productEnv, (env) => exec('crane', ['auth', 'get', registry], { env, redact: LEAKS }));
    expect(JSON.parse(crane.stdout)).toEqual({ Username: USER, Secret: PASSWORD });
  });
});

function split(argv: string[]): [string, string[]] {
  return [argv[0], argv.slice(1)];
}
