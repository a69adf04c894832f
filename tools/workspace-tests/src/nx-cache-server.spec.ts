/**
 * The Nx remote cache server (tools/nx-cache-server) played against by the jobs that must not
 * write to it: a pull request holding the read-only token, a pull request whose writes are kept
 * in a scope of their own, and clients without a token. Every test runs the real server on a
 * free loopback port and speaks real HTTP to it (raw sockets where a client library would tidy
 * the request up: `..` segments, a body that stops arriving); the Nx tests run real `nx run` in a
 * small workspace of their own, so the cache entries are the tars Nx itself uploads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import execa from 'execa';
import fc from 'fast-check';
import { fromRoot, readYaml } from './workspace';

const SERVER = fromRoot('tools', 'nx-cache-server', 'server.mjs');
const READ_TOKEN = `pr-read-${randomBytes(12).toString('hex')}`;
const WRITE_TOKEN = `main-write-${randomBytes(12).toString('hex')}`;
const WRONG_TOKEN = `guessed-${randomBytes(12).toString('hex')}`;
const HASH = '16875388613854190943';

const scratch: string[] = [];
const running = new Set<ChildProcess>();

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

interface CacheServer {
  url: string;
  port: number;
  dir: string;
  /** Everything the server printed (stdout and stderr) so far. */
  output(): string;
  /** Resolves once the server has printed a line matching `pattern`. */
  printed(pattern: RegExp): Promise<void>;
  stop(): Promise<void>;
}

/** The server's environment: PATH and what the test gives, nothing inherited that could hold a token. */
const serverEnv = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? '', ...env });

async function startServer(env: Record<string, string>, args: string[] = [], dir = join(tempDir('nx-cache-server-'), 'cache')): Promise<CacheServer> {
  const child = spawn(process.execPath, [SERVER, '--dir', dir, '--port', '0', ...args], { env: serverEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const waiting: { pattern: RegExp; resolve: () => void }[] = [];
  const append = (text: string) => {
    output += text;
    for (const w of waiting.filter((w) => w.pattern.test(output))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  };
  child.stderr!.on('data', (chunk: Buffer) => append(chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`nx-cache-server exited (${code}):\n${output}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      append(`${line}\n`);
      const match = /listening on (\S+)/.exec(line);
      if (match) resolve(match[1]);
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    dir,
    output: () => output,
    printed: (pattern) => (pattern.test(output) ? Promise.resolve() : new Promise((resolve) => waiting.push({ pattern, resolve }))),
    async stop() {
      child.kill();
      await exited;
      running.delete(child);
    },
  };
}

/** A start that must fail: its exit code and what it printed. */
async function startFails(env: Record<string, string>, args: string[] = []): Promise<{ exitCode: number; output: string }> {
  const dir = join(tempDir('nx-cache-server-'), 'cache');
  const result = await execa(process.execPath, [SERVER, '--dir', dir, '--port', '0', ...args], { env: serverEnv(env), extendEnv: false, reject: false, all: true, timeout: 20_000 });
  return { exitCode: result.exitCode, output: result.all ?? '' };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function put(server: CacheServer, hash: string, body: string | Buffer, token: string): Promise<number> {
  const response = await fetch(`${server.url}/v1/cache/${hash}`, { method: 'PUT', headers: { ...bearer(token), 'content-type': 'application/octet-stream' }, body });
  await response.arrayBuffer();
  return response.status;
}

async function get(server: CacheServer, hash: string, token: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${server.url}/v1/cache/${hash}`, { headers: bearer(token) });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()).toString() };
}

/**
 * One request written byte for byte on a fresh connection; resolves with everything the server
 * sent once it closes the connection. `body` may be shorter than the declared length: the
 * connection then stays open until the server gives up on it.
 */
function rawRequest(port: number, head: string, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(received) : reject(error)));
    socket.on('close', () => resolve(received));
    socket.write(`${head}\r\n\r\n${body}`);
  });
}

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);

/** Every file under a folder, relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name).slice(dir.length + 1))
    .sort();
}

afterAll(async () => {
  for (const child of running) {
    child.kill();
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  }
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('nx-cache-server: read and write tokens', () => {
  let server: CacheServer;
  beforeAll(async () => {
    server = await startServer({ NX_CACHE_READ_TOKENS: READ_TOKEN, NX_CACHE_WRITE_TOKENS: WRITE_TOKEN });
  });
  afterAll(() => server.stop());

  it('a read-only token (a pull request) cannot write: PUT answers 403 and nothing is stored', async () => {
    expect(await put(server, HASH, 'planted by a pull request', READ_TOKEN)).toBe(403);
    expect((await get(server, HASH, READ_TOKEN)).status).toBe(404);
    expect((await get(server, HASH, WRITE_TOKEN)).status).toBe(404);
    expect(filesUnder(server.dir)).toEqual([]);
  });

  it('a write token (main) stores an entry that both tokens read; a second PUT answers 409 and the first bytes stay', async () => {
    const hash = '1111';
    expect(await put(server, hash, 'built on main', WRITE_TOKEN)).toBe(200);
    expect(await put(server, hash, 'built again, differently', WRITE_TOKEN)).toBe(409);
    expect(await get(server, hash, WRITE_TOKEN)).toEqual({ status: 200, body: 'built on main' });
    expect(await get(server, hash, READ_TOKEN)).toEqual({ status: 200, body: 'built on main' });
  });

  it('two writers racing on one hash: exactly one wins, and the entry holds the winner\'s bytes whole', async () => {
    const hash = '2222';
    const bodies = Array.from({ length: 6 }, (_, i) => Buffer.alloc(256 * 1024, String(i)));
    const statuses = await Promise.all(bodies.map((body) => put(server, hash, body, WRITE_TOKEN)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(5);
    const { body } = await get(server, hash, READ_TOKEN);
    expect(body).toBe(bodies[statuses.indexOf(200)].toString());
  });

  it('no token or a wrong token answers 401, and nothing the server prints contains a token', async () => {
    for (const headers of [{}, bearer(WRONG_TOKEN), { authorization: WRITE_TOKEN }, { authorization: `Basic ${Buffer.from(`x:${WRITE_TOKEN}`).toString('base64')}` }]) {
      const getResponse = await fetch(`${server.url}/v1/cache/${HASH}`, { headers });
      expect(getResponse.status).toBe(401);
      await getResponse.arrayBuffer();
      const putResponse = await fetch(`${server.url}/v1/cache/${HASH}`, { method: 'PUT', headers, body: 'anonymous' });
      expect(putResponse.status).toBe(401);
      await putResponse.arrayBuffer();
    }
    // A token pasted into the path instead of the header is not printed back either, even when
    // it would pass for a hash.
    for (const path of [`/v1/cache/${WRONG_TOKEN}`, `/v1/cache/${WRONG_TOKEN}/x`, `/?token=${WRONG_TOKEN}`]) {
      expect(statusOf(await rawRequest(server.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close`))).toBe(401);
    }
    const stats = await fetch(`${server.url}/stats`);
    expect(stats.status).toBe(401);
    await stats.arrayBuffer();
    expect(filesUnder(server.dir).filter((f) => f.includes(HASH))).toEqual([]);
    const output = server.output();
    expect(output).toMatch(/401/);
    for (const token of [READ_TOKEN, WRITE_TOKEN, WRONG_TOKEN]) expect(output).not.toContain(token);
  });

  it('a hash that could name another file is refused, and nothing is written outside the cache', async () => {
    const parent = join(server.dir, '..');
    const attempts = ['../../escape', '..%2F..%2Fescape', '%2e%2e', '..', '.', 'a.b', 'a/b', 'a\\b', 'x'.repeat(129), `${HASH}?x=1`, `${HASH}%00`];
    for (const hash of attempts) {
      const response = await rawRequest(server.port, `PUT /v1/cache/${hash} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: 7\r\nConnection: close`, 'escaped');
      expect({ hash, status: statusOf(response) }).toEqual({ hash, status: 400 });
    }
    // Any path segment outside the grammar, not only the ones above.
    const segment = fc.string({ unit: fc.constantFrom('.', '/', '\\', '%', '2', 'e', 'E', 'f', 'F', 'a', '0', '~', '-', '_', ':', ';', '+', '='), minLength: 1, maxLength: 24 }).filter((s) => !/^[A-Za-z0-9_-]+$/.test(s));
    await fc.assert(
      fc.asyncProperty(segment, async (hash) => {
        const response = await rawRequest(server.port, `PUT /v1/cache/${hash} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: 7\r\nConnection: close`, 'escaped');
        expect(statusOf(response)).not.toBe(200);
      }),
      { numRuns: 60 },
    );
    expect(readdirSync(parent)).toEqual(['cache']);
    expect(filesUnder(server.dir).filter((f) => !/^scopes\/trusted\/(1111|2222)$/.test(f))).toEqual([]);
  });
});

describe('nx-cache-server: bounded bodies', () => {
  let server: CacheServer;
  beforeAll(async () => {
    server = await startServer({ NX_CACHE_WRITE_TOKENS: WRITE_TOKEN }, ['--max-entry-bytes', '1024', '--idle-timeout-ms', '300']);
  });
  afterAll(() => server.stop());

  it('an entry larger than the limit is refused (413) before a byte of it is stored', async () => {
    const response = await rawRequest(server.port, `PUT /v1/cache/${HASH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: 1048576`);
    expect(statusOf(response)).toBe(413);
    expect((await get(server, HASH, WRITE_TOKEN)).status).toBe(404);
    expect(filesUnder(server.dir)).toEqual([]);
  });

  it('a body of unknown length (chunked) is refused (411): the limit is checked before reading', async () => {
    const response = await rawRequest(server.port, `PUT /v1/cache/${HASH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close`, '4\r\nabcd\r\n0\r\n\r\n');
    expect(statusOf(response)).toBe(411);
    expect(filesUnder(server.dir)).toEqual([]);
  });

  it('a body that stops arriving times out (408) and leaves neither an entry nor a partial file', async () => {
    // 100 bytes announced, 10 sent, then silence: the connection stays open until the server ends it.
    const response = await rawRequest(server.port, `PUT /v1/cache/${HASH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: 100`, '0123456789');
    expect(statusOf(response)).toBe(408);
    expect((await get(server, HASH, WRITE_TOKEN)).status).toBe(404);
    expect(filesUnder(server.dir)).toEqual([]);
  });

  it('a client that disconnects mid-body leaves no entry', async () => {
    await new Promise<void>((resolve) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.write(`PUT /v1/cache/${HASH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: 100\r\n\r\n0123456789`);
        setImmediate(() => socket.destroy());
      });
      socket.on('close', () => resolve());
    });
    // The server prints the refusal once the partial file is gone.
    await server.printed(/PUT \S+ 400 write-token-1: connection closed before the entry was complete/);
    expect((await get(server, HASH, WRITE_TOKEN)).status).toBe(404);
    expect(await put(server, HASH, 'whole', WRITE_TOKEN)).toBe(200);
    expect(filesUnder(server.dir)).toEqual([`scopes/trusted/${HASH}`]);
  });
});

describe('nx-cache-server: configuration it refuses', () => {
  it.each([
    ['no token at all', {}, []],
    ['the old single read-write --token', {}, ['--token', WRITE_TOKEN]],
    ['a token both read-only and read-write', { NX_CACHE_READ_TOKENS: WRITE_TOKEN, NX_CACHE_WRITE_TOKENS: WRITE_TOKEN }, []],
    ['a token too short to be a secret', { NX_CACHE_WRITE_TOKENS: 'short' }, []],
  ] as const)('%s: exits 2 with a hint, and prints no token', async (_name, env, args) => {
    const { exitCode, output } = await startFails(env, [...args]);
    expect(exitCode).toBe(2);
    expect(output).toMatch(/NX_CACHE_WRITE_TOKENS|NX_CACHE_READ_TOKENS|--config/);
    expect(output).not.toContain(WRITE_TOKEN);
  });
});

describe('nx-cache-server: entries of the single-token layout', () => {
  it('are not served, since anyone holding the one token could have written them; the server says so', async () => {
    const dir = join(tempDir('nx-cache-server-'), 'cache');
    mkdirSync(dir);
    writeFileSync(join(dir, HASH), 'written with the old shared token');
    const server = await startServer({ NX_CACHE_WRITE_TOKENS: WRITE_TOKEN }, [], dir);
    try {
      expect((await get(server, HASH, WRITE_TOKEN)).status).toBe(404);
      expect(server.output()).toMatch(/1 entries at the top of .* are not served/);
    } finally {
      await server.stop();
    }
  });
});

describe('nx-cache-server: scopes (a pull request writes where main never reads)', () => {
  let server: CacheServer;
  beforeAll(async () => {
    const configDir = tempDir('nx-cache-config-');
    const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');
    const config = join(configDir, 'tokens.json');
    writeFileSync(config, JSON.stringify({
      tokens: [
        { name: 'main', sha256: sha256(WRITE_TOKEN), read: ['trusted'], write: 'trusted' },
        { name: 'pull-requests', sha256: sha256(READ_TOKEN), read: ['trusted', 'pull-requests'], write: 'pull-requests' },
      ],
    }));
    server = await startServer({}, ['--config', config]);
  });
  afterAll(() => server.stop());

  it('a pull request stores into its own scope and reads it back; main does not see it', async () => {
    expect(await put(server, HASH, 'planted by a pull request', READ_TOKEN)).toBe(200);
    expect(await get(server, HASH, READ_TOKEN)).toEqual({ status: 200, body: 'planted by a pull request' });
    expect((await get(server, HASH, WRITE_TOKEN)).status).toBe(404);
  });

  it('main, writing the same hash later, is still the first writer of what main reads; the pull request then reads main\'s entry', async () => {
    expect(await put(server, HASH, 'built on main', WRITE_TOKEN)).toBe(200);
    expect(await get(server, HASH, WRITE_TOKEN)).toEqual({ status: 200, body: 'built on main' });
    expect(await get(server, HASH, READ_TOKEN)).toEqual({ status: 200, body: 'built on main' });
    expect(filesUnder(server.dir)).toEqual([`scopes/pull-requests/${HASH}`, `scopes/trusted/${HASH}`]);
  });
});

/** A one-project Nx workspace whose task's output depends on something outside its hash (PAYLOAD). */
function nxWorkspace(): string {
  const dir = tempDir('nx-cache-ws-');
  symlinkSync(fromRoot('node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'cache-poisoning', private: true }));
  writeFileSync(join(dir, 'nx.json'), JSON.stringify({ namedInputs: { default: ['{projectRoot}/**/*'] } }));
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'input.txt'), 'source\n');
  // The PR job controls its own environment; an input the hash does not see is how it makes a
  // poisoned output under the very hash main will compute.
  const script = "require('fs').mkdirSync('app/out',{recursive:true});require('fs').writeFileSync('app/out/result.txt', process.env.PAYLOAD || 'genuine')";
  writeFileSync(join(dir, 'app', 'project.json'), JSON.stringify({
    name: 'app',
    targets: { build: { executor: 'nx:run-commands', cache: true, inputs: ['default'], outputs: ['{projectRoot}/out'], options: { command: `node -e "${script}"` } } },
  }));
  execa.sync('git', ['init', '-q', '.'], { cwd: dir });
  execa.sync('git', ['-c', 'user.email=ci@example.test', '-c', 'user.name=ci', 'commit', '-q', '--allow-empty', '-m', 'init'], { cwd: dir });
  return dir;
}

/** `nx run app:build` as a fresh CI machine: its own empty local cache, the remote cache with one token. */
async function nxBuild(workspace: string, server: CacheServer, token: string, extraEnv: Record<string, string> = {}) {
  rmSync(join(workspace, 'app', 'out'), { recursive: true, force: true });
  const { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: _s, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: _t, PAYLOAD: _p, ...inherited } = process.env;
  const result = await execa('npx', ['nx', 'run', 'app:build', '--outputStyle=static'], {
    cwd: workspace,
    extendEnv: false,
    reject: false,
    all: true,
    env: {
      ...inherited,
      NX_DAEMON: 'false',
      NX_NO_CLOUD: 'true',
      NX_TUI: 'false',
      NX_CACHE_DIRECTORY: tempDir('nx-cache-local-'),
      // Nx records what its local cache holds in the workspace's data folder, not in the cache
      // folder: a fresh machine needs both.
      NX_WORKSPACE_DATA_DIRECTORY: tempDir('nx-cache-data-'),
      NX_SELF_HOSTED_REMOTE_CACHE_SERVER: server.url,
      NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token,
      ...extraEnv,
    },
  });
  if (result.exitCode !== 0) throw new Error(`nx run app:build failed (${result.exitCode}):\n${result.all}`);
  return { fromRemote: /\[remote cache\]/.test(result.all ?? ''), result: readFileSync(join(workspace, 'app', 'out', 'result.txt'), 'utf8') };
}

describe('nx-cache-server with real Nx: a pull request cannot poison main', () => {
  it('read-only pull request token: the PR run succeeds and stores nothing; main builds the genuine output and a second main machine restores it', async () => {
    const server = await startServer({ NX_CACHE_READ_TOKENS: READ_TOKEN, NX_CACHE_WRITE_TOKENS: WRITE_TOKEN });
    try {
      const workspace = nxWorkspace();
      expect(await nxBuild(workspace, server, READ_TOKEN, { PAYLOAD: 'poisoned' })).toEqual({ fromRemote: false, result: 'poisoned' });
      expect(filesUnder(server.dir)).toEqual([]);
      expect(server.output()).toMatch(/PUT \S+ 403/);
      expect(await nxBuild(workspace, server, WRITE_TOKEN)).toEqual({ fromRemote: false, result: 'genuine' });
      expect(await nxBuild(workspace, server, WRITE_TOKEN)).toEqual({ fromRemote: true, result: 'genuine' });
      // The pull request, next time, restores what main built.
      expect(await nxBuild(workspace, server, READ_TOKEN, { PAYLOAD: 'poisoned' })).toEqual({ fromRemote: true, result: 'genuine' });
      for (const token of [READ_TOKEN, WRITE_TOKEN]) expect(server.output()).not.toContain(token);
    } finally {
      await server.stop();
    }
  });

  it('pull request writing into its own scope: its planted entry is restored by the PR only; main runs the task itself', async () => {
    const configDir = tempDir('nx-cache-config-');
    const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');
    const config = join(configDir, 'tokens.json');
    writeFileSync(config, JSON.stringify({
      tokens: [
        { name: 'main', sha256: sha256(WRITE_TOKEN), read: ['trusted'], write: 'trusted' },
        { name: 'pull-requests', sha256: sha256(READ_TOKEN), read: ['trusted', 'pull-requests'], write: 'pull-requests' },
      ],
    }));
    const server = await startServer({}, ['--config', config]);
    try {
      const workspace = nxWorkspace();
      expect(await nxBuild(workspace, server, READ_TOKEN, { PAYLOAD: 'poisoned' })).toEqual({ fromRemote: false, result: 'poisoned' });
      // The plant is real: another PR machine restores it.
      expect(await nxBuild(workspace, server, READ_TOKEN)).toEqual({ fromRemote: true, result: 'poisoned' });
      expect(await nxBuild(workspace, server, WRITE_TOKEN)).toEqual({ fromRemote: false, result: 'genuine' });
      expect(await nxBuild(workspace, server, WRITE_TOKEN)).toEqual({ fromRemote: true, result: 'genuine' });
    } finally {
      await server.stop();
    }
  });
});

describe('the workflows pass the cache token by trust', () => {
  const env = (file: string) => (readYaml(fromRoot('.github', 'workflows', file)) as { env?: Record<string, string> }).env ?? {};

  it('pull requests get the read-only token, and no workflow but the release names the write token', () => {
    expect(env('pr.yml').NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN).toBe('${{ secrets.NX_CACHE_READ_TOKEN }}');
    for (const file of readdirSync(fromRoot('.github', 'workflows')).filter((f) => f !== 'release.yml')) {
      expect({ file, writes: readFileSync(fromRoot('.github', 'workflows', file), 'utf8').includes('NX_CACHE_WRITE_TOKEN') }).toEqual({ file, writes: false });
    }
  });

  it('the release writes only from main and develop', () => {
    expect(env('release.yml').NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN).toBe(
      "${{ (github.ref == 'refs/heads/main' || github.ref == 'refs/heads/develop') && secrets.NX_CACHE_WRITE_TOKEN || secrets.NX_CACHE_READ_TOKEN }}",
    );
  });
});
