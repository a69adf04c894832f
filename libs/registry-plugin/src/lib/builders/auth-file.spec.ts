/**
 * buildah refuses to pull, push or create a container when DOCKER_CONFIG names a folder without
 * config.json ("checking authfile: stat …/config.json"), which is the normal state of that folder
 * before any login. A build must go through with real buildah, and without handing it credentials
 * from anywhere else.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withBuilderAuthFile } from '../connect/child-tools';
import { noLayerCache } from '../layer-cache/layer-cache';
import { buildahBuilder } from './buildah';

describe('a DOCKER_CONFIG folder without config.json (real buildah)', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'auren-authfile-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('builds and exports the image', async () => {
    const dockerConfig = join(work, 'docker');
    await mkdir(dockerConfig);
    const app = join(work, 'app');
    await mkdir(app);
    await writeFile(join(app, 'Dockerfile'), 'FROM scratch\nCOPY app.txt /app.txt\n');
    await writeFile(join(app, 'app.txt'), 'app\n');
    const env: NodeJS.ProcessEnv = { ...process.env, STORAGE_DRIVER: 'vfs', AUREN_BUILDAH_ROOT: join(work, 'storage'), DOCKER_CONFIG: dockerConfig };
    delete env.REGISTRY_AUTH_FILE;
    const outputDir = join(work, 'out');
    await buildahBuilder().build({
      context: app, dockerfile: join(app, 'Dockerfile'), buildArgs: {}, labels: {}, platforms: [], target: undefined,
      outputDir, insecureRegistries: [], certDir: undefined, cacheFrom: [], cacheTo: [], timestamp: 0,
      localName: 'localhost/authfile-test:1', env, verbose: false, layerCache: noLayerCache(),
    });
    const index = JSON.parse(await readFile(join(outputDir, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
  }, 120_000);

  it.each([
    ['no DOCKER_CONFIG', {}, undefined],
    ['an auth file of its own', { DOCKER_CONFIG: '/nowhere', REGISTRY_AUTH_FILE: '/x/auth.json' }, '/x/auth.json'],
  ] as const)('leaves the environment as it is with %s', async (_name, env, authFile) => {
    expect(await withBuilderAuthFile(env, async (e) => e.REGISTRY_AUTH_FILE)).toBe(authFile);
  });

  it('leaves a config.json that exists to buildah', async () => {
    const dockerConfig = join(work, 'with-config');
    await mkdir(dockerConfig);
    await writeFile(join(dockerConfig, 'config.json'), '{"auths":{}}\n');
    expect(await withBuilderAuthFile({ DOCKER_CONFIG: dockerConfig }, async (e) => e.REGISTRY_AUTH_FILE)).toBeUndefined();
  });

  it('gives buildah an empty auth file, removed afterwards, when config.json is missing', async () => {
    const dockerConfig = join(work, 'empty');
    await mkdir(dockerConfig);
    const file = await withBuilderAuthFile({ DOCKER_CONFIG: dockerConfig }, async (e) => {
      expect(JSON.parse(await readFile(e.REGISTRY_AUTH_FILE!, 'utf8'))).toEqual({ auths: {} });
      return e.REGISTRY_AUTH_FILE!;
    });
    await expect(readFile(file)).rejects.toThrow(/ENOENT/);
  });
});
