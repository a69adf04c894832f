import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createRegistryClient } from '../lib/registry/client';
import type { RegistryClient, TagDeleter } from '../lib/registry/types';

/**
 * A real CNCF distribution registry on a free loopback port, for integration tests: Debian's
 * `docker-registry` (distribution 2.8) or distribution 3's `registry` (built by
 * `tools/scripts/setup.sh --test-tools`, found on PATH). Each instance has its own data folder
 * and is removed by `stop()`.
 */
export type RegistryFlavor = 'distribution2' | 'distribution3';
export const REGISTRY_FLAVORS: readonly RegistryFlavor[] = ['distribution2', 'distribution3'];

export interface TestRegistry {
  flavor: RegistryFlavor;
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  url: string;
  dataDir: string;
  configPath: string;
  /** Stop the process; with `keepData` the data folder survives (for restart and GC tests). */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Restart with the same data and configuration (distribution caches blob state in memory). */
  restart(extraConfig?: string): Promise<void>;
}

export interface TestRegistryOptions {
  /** Extra YAML appended at the top level of the configuration (auth, tls, readonly…). */
  extraConfig?: string;
  /** Extra YAML inserted inside the `http:` section (for `tls:`), indented by two spaces. */
  httpExtra?: string;
  /** Extra YAML inserted inside the `storage:` section (for `cache:`), indented by two spaces. */
  storageExtra?: string;
  /** Use this data folder (to share storage between instances). */
  dataDir?: string;
  /** Which distribution to run. Default `distribution2`. */
  flavor?: RegistryFlavor;
}

/** The binary of a flavor; distribution 3 missing is a failure that says how to install it, never a skip. */
export function registryBinary(flavor: RegistryFlavor = 'distribution2', env: NodeJS.ProcessEnv = process.env): string {
  if (flavor === 'distribution2') return 'docker-registry';
  // Debian ships no `registry` binary, so the name on PATH is distribution 3's own build.
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'registry'))) return join(dir, 'registry');
  }
  throw new Error(
    "distribution 3's `registry` binary is not on PATH: run `bash tools/scripts/setup.sh --test-tools` " +
      '(it builds the pinned test tools into tools/.bin/), then put tools/.bin first on PATH.',
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function registryConfig(dataDir: string, port: number, options: TestRegistryOptions = {}): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    // One line per request otherwise: a parent blocked in a synchronous call stops draining the
    // pipe and the registry stalls once the pipe buffer is full.
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dataDir}`,
    '  delete:',
    '    enabled: true',
    ...(options.storageExtra ? [options.storageExtra.replace(/^/gm, '  ')] : []),
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ...(options.httpExtra ? [options.httpExtra.replace(/^/gm, '  ')] : []),
    ...(options.extraConfig ? [options.extraConfig] : []),
    '',
  ].join('\n');
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the registry exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the registry did not listen on ${port} within 15 s: ${log()}`);
}

export async function startTestRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const flavor = options.flavor ?? 'distribution2';
  const binary = registryBinary(flavor);
  const work = await mkdtemp(join(tmpdir(), 'auren-registry-'));
  const dataDir = options.dataDir ?? join(work, 'data');
  const configPath = join(work, 'config.yml');
  const port = await freePort();
  let child: ChildProcess;
  let output = '';

  const launch = async (config: TestRegistryOptions) => {
    await writeFile(configPath, registryConfig(dataDir, port, config));
    output = '';
    child = spawn(binary, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d) => (output = (output + d).slice(-4000)));
    child.stderr?.on('data', (d) => (output = (output + d).slice(-4000)));
    await waitForPort(port, child, () => output);
  };
  const kill = async () => {
    // A process killed by a signal keeps exitCode null and sets signalCode instead.
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  };

  // A registry that does not come up leaves neither a process nor its folder behind.
  await launch(options).catch(async (error: unknown) => {
    await kill();
    await rm(work, { recursive: true, force: true });
    throw error;
  });
  const scheme = options.httpExtra?.includes('tls:') ? 'https' : 'http';
  return {
    flavor,
    host: `127.0.0.1:${port}`,
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    dataDir,
    configPath,
    async stop(stopOptions = {}) {
      await kill();
      if (!stopOptions.keepData) await rm(work, { recursive: true, force: true });
    },
    async restart(extraConfig?: string) {
      await kill();
      await launch(extraConfig === undefined ? options : { ...options, extraConfig });
    },
  };
}

/**
 * Several registries at once. If one fails to start, the ones that did are stopped before the
 * error is thrown: a spec's afterAll never sees them, and a registry left running keeps jest
 * from exiting.
 */
export async function startTestRegistries(...all: TestRegistryOptions[]): Promise<TestRegistry[]> {
  const started = await Promise.allSettled(all.map((options) => startTestRegistry(options)));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const running = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (failed) {
    await Promise.all(running.map((registry) => registry.stop()));
    throw failed.reason;
  }
  return running;
}

export interface UsedTestRegistry {
  /** The running registry (valid inside tests and hooks, from the first `beforeAll` on). */
  registry: TestRegistry;
  /** A plain-HTTP client of that registry, made on first use. */
  client: RegistryClient & TagDeleter;
}

/**
 * One registry for the enclosing `describe` (or file): registers the `beforeAll` that starts it
 * and the `afterAll` that stops it. What it returns forwards to the registry and client started
 * there, so a spec can name them at the top (`const { registry, client } = useTestRegistry()`)
 * without `let` and a setup hook of its own. Call it before the spec's own `beforeAll` that uses
 * the registry: Jest runs `beforeAll` hooks in the order they are registered. Options that only
 * exist once an outer hook ran (a test PKI) can be given as a function, called in the `beforeAll`.
 */
export function useTestRegistry(options: TestRegistryOptions | (() => TestRegistryOptions) = {}): UsedTestRegistry {
  let registry: TestRegistry | undefined;
  let client: (RegistryClient & TagDeleter) | undefined;
  const started = (): TestRegistry => {
    if (!registry) throw new Error('useTestRegistry: the registry is used before its beforeAll ran (use it inside a test or hook)');
    return registry;
  };
  beforeAll(async () => {
    registry = await startTestRegistry(typeof options === 'function' ? options() : options);
  });
  afterAll(async () => {
    await registry?.stop();
  });
  return {
    registry: forwardTo(started),
    client: forwardTo(() => (client ??= createRegistryClient({ registry: started().host }))),
  };
}

/** An object that reads every property from `target()` at the time of use. */
function forwardTo<T extends object>(target: () => T): T {
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    has: (_, key) => Reflect.has(target(), key),
    // So that spreading and Object.keys see the target's own properties too.
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
  });
}
