/**
 * Builds in one builder storage take turns across processes: two buildah builds side by side in
 * one storage were not reproducible. With real buildah: a build waits while another live process
 * holds the storage's lock, and goes once it is gone.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noLayerCache } from '../layer-cache/layer-cache';
import { buildahBuilder, storageRoot } from './buildah';

describe('builds in one storage take turns across processes (real buildah)', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'auren-build-lock-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('the storage is AUREN_BUILDAH_ROOT, else buildah\'s default for this user', () => {
    expect(storageRoot({ AUREN_BUILDAH_ROOT: '/x/root' })).toBe('/x/root');
    const home = { HOME: '/home/u', XDG_DATA_HOME: undefined };
    expect(storageRoot(home)).toBe(process.getuid?.() === 0 ? '/var/lib/containers/storage' : '/home/u/.local/share/containers/storage');
  });

  it('a build waits while another process holds its storage\'s lock, then builds and lets the lock go', async () => {
    const app = join(work, 'app');
    await mkdir(app);
    await writeFile(join(app, 'Dockerfile'), 'FROM scratch\nCOPY app.txt /app.txt\n');
    await writeFile(join(app, 'app.txt'), 'app\n');
    const root = join(work, 'storage');
    const env: NodeJS.ProcessEnv = { ...process.env, STORAGE_DRIVER: 'vfs', AUREN_BUILDAH_ROOT: root };
    const lock = `${root}.auren-build.lock`;
    // Another builder process, as `--batch=false` or a second nx command would be.
    const other = spawn('sleep', ['600'], { stdio: 'ignore' });
    const gone = new Promise((resolve) => other.once('exit', resolve));
    try {
      await writeFile(lock, String(other.pid));
      const outputDir = join(work, 'out');
      let done = false;
      const build = buildahBuilder()
        .build({
          context: app, dockerfile: join(app, 'Dockerfile'), buildArgs: {}, labels: {}, platforms: [], target: undefined,
          outputDir, insecureRegistries: [], certDir: undefined, cacheFrom: [], cacheTo: [], timestamp: 0,
          localName: 'localhost/build-lock-test:1', env, verbose: false, layerCache: noLayerCache(),
        })
        .finally(() => (done = true));
      const stderr = jest.spyOn(process.stderr, 'write');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(stderr.mock.calls.map(([text]) => String(text))).toContain(`build: waiting for a buildah build (pid ${other.pid}), which builds in the same storage (${lock})\n`);
      stderr.mockRestore();
      // Not one buildah command has run: the storage it would make on its first is not there.
      expect(done).toBe(false);
      expect(existsSync(root)).toBe(false);
      other.kill('SIGKILL');
      await gone;
      await build;
      expect(JSON.parse(await readFile(join(outputDir, 'index.json'), 'utf8')).manifests).toHaveLength(1);
      expect(existsSync(lock)).toBe(false);
    } finally {
      other.kill('SIGKILL');
    }
  }, 120_000);
});
