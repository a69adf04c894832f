/**
 * A base image pinned by the digest of its index must give each build its own platform, with real
 * buildah and a real registry. With --pull=missing, buildah 1.28 took any local image carrying the
 * index's digest: after biometric-bridge's arm64 build had pulled the arm64 base, an amd64
 * auren-api build got the arm64 base (only a warning) and so an arm64 image.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { exec } from '../exec/exec';
import { noLayerCache } from '../layer-cache/layer-cache';
import { buildahBuilder, globalArgs } from './buildah';

const HOST_ARCH = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
const OTHER_ARCH = HOST_ARCH === 'arm64' ? 'amd64' : 'arm64';

describe('a base image pinned by its index digest (real buildah, real registry)', () => {
  let work: string;
  let registry: TestRegistry;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'auren-base-platform-'));
    registry = await startTestRegistry();
    // A storage root of its own: nothing shared with other builds on the machine.
    env = { ...process.env, STORAGE_DRIVER: 'vfs', AUREN_BUILDAH_ROOT: join(work, 'storage') };
  });
  afterAll(async () => {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const write = async (dir: string, files: Record<string, string>) => {
    await mkdir(dir, { recursive: true });
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    return dir;
  };

  it('builds on the base of its own platform, though the storage holds the other one under the same digest', async () => {
    const g = globalArgs(env);
    const tls = '--tls-verify=false';
    // The base: one file that names its platform (no RUN, so no emulator is needed).
    const base = await write(join(work, 'base'), { Dockerfile: 'FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}.txt /arch.txt\n', 'amd64.txt': 'amd64\n', 'arm64.txt': 'arm64\n' });
    await exec('buildah', [...g, 'build', '--platform', `linux/${HOST_ARCH},linux/${OTHER_ARCH}`, '--manifest', 'localhost/base-test:1', base], { env });
    const digestFile = join(work, 'digest');
    await exec('buildah', [...g, 'manifest', 'push', '--all', tls, '--digestfile', digestFile, 'localhost/base-test:1', `docker://${registry.host}/t/base:1`], { env });
    const pinned = `${registry.host}/t/base@${(await readFile(digestFile, 'utf8')).trim()}`;

    // Another project's build for the other platform pulls that platform's base into the storage.
    const app = await write(join(work, 'app'), { Dockerfile: 'ARG BASE\nFROM ${BASE}\nCOPY app.txt /app.txt\n', 'app.txt': 'app\n' });
    await exec('buildah', [...g, 'build', '--pull=missing', tls, '--platform', `linux/${OTHER_ARCH}`, '--build-arg', `BASE=${pinned}`, '-t', 'localhost/other:1', app], { env });

    // This project's build, for the host's platform, through the plugin's builder.
    const outputDir = join(work, 'out');
    await buildahBuilder().build({
      context: app, dockerfile: join(app, 'Dockerfile'), buildArgs: { BASE: pinned }, labels: {}, platforms: [], target: undefined,
      outputDir, insecureRegistries: [registry.host], certDir: undefined, cacheFrom: [], cacheTo: [], timestamp: 0,
      localName: 'localhost/platform-test:1', env, verbose: false, layerCache: noLayerCache(),
    });
    const index = JSON.parse(await readFile(join(outputDir, 'index.json'), 'utf8'));
    const manifest = JSON.parse(await readFile(join(outputDir, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    const config = JSON.parse(await readFile(join(outputDir, 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8'));
    expect(config.architecture).toBe(HOST_ARCH);
  }, 300_000);
});
