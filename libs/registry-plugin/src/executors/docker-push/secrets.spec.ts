import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { exec } from '../../lib/exec/exec';
import { writeTestLayout, type TestLayout } from '../../lib/registry/layout.testing';
import { writeHtpasswd } from '../../testing/htpasswd.testing';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';

/**
 * docker-push as Nx runs it — the executor in a process of its own, its error through the
 * executors' one boundary (runExecutor → formatError) onto stdout/stderr — with a registry
 * address that holds a password, or a password in the environment the registry refuses.
 * Neither password may appear in what the process prints.
 */
describe('docker-push never prints a secret', () => {
  const PLUGIN = join(__dirname, '..', '..', '..');
  const IN_ADDRESS = 'addr-Secret-c41d';
  const IN_ENV = 'env-Secret-2b97';
  let registry: TestRegistry;
  let htpasswdDir: string;
  let root: string;
  let layout: TestLayout;

  beforeAll(async () => {
    const auth = await writeHtpasswd({ ci: 'the-right-password-0e5f' });
    htpasswdDir = dirname(auth.path);
    registry = await startTestRegistry({ extraConfig: auth.yaml });
    root = await mkdtemp(join(tmpdir(), 'auren-push-secrets-'));
    await exec('git', ['init', '-q', '-b', 'main'], { cwd: root });
    await writeFile(join(root, 'README.md'), 'app\n');
    await exec('git', ['add', '.'], { cwd: root });
    await exec('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'feat: app'], { cwd: root });
    layout = await writeTestLayout({ platforms: ['linux/amd64'] });
    const dir = join(root, 'dist/images/app');
    await mkdir(dir, { recursive: true });
    await cp(layout.dir, join(dir, 'oci'), { recursive: true });
    await writeFile(
      join(dir, 'image.json'),
      JSON.stringify({ schemaVersion: 1, project: 'app', digest: layout.digest, mediaType: layout.layout.mediaType, platforms: ['linux/amd64'], size: layout.layout.size, labels: {}, builder: { name: 'test', version: '0' }, createdAt: '2026-01-01T00:00:00Z' }),
    );
    await writeFile(
      join(root, 'run-executor.js'),
      [
        `require(${JSON.stringify(join(PLUGIN, 'bin', 'register.js'))});`,
        `const run = require(${JSON.stringify(join(PLUGIN, 'src', 'executors', 'docker-push', 'executor.ts'))}).default;`,
        'const [options, context] = JSON.parse(process.argv[2]);',
        'run(options, context).then((r) => { if (!r.success) process.exitCode = process.exitCode || 1; });',
      ].join('\n'),
    );
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    await rm(htpasswdDir, { recursive: true, force: true });
    if (root) await rm(root, { recursive: true, force: true });
    if (layout) await rm(layout.dir, { recursive: true, force: true });
  });

  function dockerPush(pluginOptions: Record<string, unknown>, env: Record<string, string>): Promise<{ code: number; out: string }> {
    const context = {
      root,
      cwd: root,
      isVerbose: false,
      projectName: 'app',
      projectsConfigurations: { version: 2, projects: { app: { root: 'apps/app' } } },
      nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: pluginOptions }] },
    };
    const options = { versioned: false, requireScan: false };
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(root, 'run-executor.js'), JSON.stringify([options, context])], {
        cwd: root,
        env: { PATH: process.env.PATH, HOME: root, DOCKER_CONFIG: join(root, 'docker'), AUREN_BRANCH: 'main', AUREN_REGISTRY_USERNAME: 'ci', AUREN_REGISTRY_PASSWORD: IN_ENV, ...env },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, out }));
    });
  }

  it.each<[string, () => Record<string, unknown>, () => Record<string, string>]>([
    ['nx.json registry with userinfo', () => ({ registry: `ci:${IN_ADDRESS}@${registry.host}`, namespace: 'auren' }), () => ({})],
    ['nx.json insecureRegistries with userinfo', () => ({ registry: registry.host, insecureRegistries: [`https://ci:${IN_ADDRESS}@${registry.host}`] }), () => ({})],
    ['AUREN_REGISTRY as a URL with userinfo', () => ({ registry: registry.host }), () => ({ AUREN_REGISTRY: `https://ci:${IN_ADDRESS}@${registry.host}/auren` })],
  ])('%s: refused before anything is sent, the password not repeated', async (_name, pluginOptions, env) => {
    const { code, out } = await dockerPush(pluginOptions(), env());
    expect(out).toContain('registry address contains credentials; put them in AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD (or a docker credential helper)');
    expect(out).not.toContain(IN_ADDRESS);
    expect(out).not.toContain(IN_ENV);
    expect(code).toBe(2);
  });

  it('a password in the environment the registry refuses: the push fails, the output does not carry it', async () => {
    const { code, out } = await dockerPush({ registry: registry.host, namespace: 'auren' }, {});
    expect(code).toBe(1);
    expect(out).toMatch(/401|credentials|refused|denied/i);
    expect(out).not.toContain(IN_ENV);
  });
});
