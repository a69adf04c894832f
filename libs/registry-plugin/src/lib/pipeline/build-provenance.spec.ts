import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { normalizeOptions } from '../config/options';
import { exec } from '../exec/exec';
import { readOciLayout } from '../registry/layout';
import { readBuildProvenance, type BuildProvenance } from '../reports/records';
import { LOCAL_BUILDER_ID } from '../supply-chain/provenance';
import { runBuilder, writeImageRecord } from './build';

/**
 * The build records what provenance needs (real buildah, real git): the
 * Dockerfile, context, platforms, build args and target; the commit and where it comes from;
 * the package lock the image carries; the builder; start and finish. A fetched image gets none.
 */

const LOCK = 'base-files=12.4+deb12u13\nbash=5.2.15-2+b9\n';

describe('docker-build records the provenance inputs (real buildah)', () => {
  let registry: TestRegistry;
  let root: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    registry = await startTestRegistry();
    root = await mkdtemp(join(tmpdir(), 'auren-build-provenance-'));
    env = { ...process.env, STORAGE_DRIVER: 'vfs', AUREN_BUILDAH_ROOT: join(root, '.storage'), AUREN_BRANCH: 'main', GITHUB_ACTIONS: '', AUREN_PROVENANCE_BUILDER_ID: '' };
    const app = join(root, 'apps/app');
    await mkdir(app, { recursive: true });
    // The base image's lock, where tools/base-image puts it, as the bottom layer of this image.
    await writeFile(join(app, 'Dockerfile'), 'FROM scratch AS runtime\nCOPY packages.lock /usr/share/auren/packages.lock\nARG GREETING\nCOPY app.txt /app.txt\n');
    await writeFile(join(app, 'packages.lock'), LOCK);
    await writeFile(join(app, 'app.txt'), 'app\n');
    // A workspace as the generators make it: nx.json at the root, its caches ignored.
    await writeFile(join(root, 'nx.json'), '{}\n');
    await writeFile(join(root, '.gitignore'), '.storage*\ndist/\n.nx/cache/\n');
    const git = (...args: string[]) => exec('git', args, { cwd: root });
    await git('init', '-q', '-b', 'main');
    await git('remote', 'add', 'origin', 'https://ci-bot:ghp_notARealToken1234@github.com/auren/platform.git');
    await git('add', '.');
    await git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'feat: app');
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    if (root) {
      await exec('buildah', ['--root', join(root, '.storage'), '--runroot', join(root, '.storage.run'), '--storage-driver', 'vfs', 'rm', '--all'], { okExitCodes: [0, 1, 125] }).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    }
  });

  it('writes provenance.json for the digest it built', async () => {
    const artifactDir = join(root, 'dist/images/app');
    const record = await runBuilder({
      workspaceRoot: root,
      project: { name: 'app', root: 'apps/app', artifactDir },
      config: normalizeOptions({ registry: registry.host }, {}),
      dockerfile: 'apps/app/Dockerfile',
      context: 'apps/app',
      builder: 'buildah',
      platforms: [],
      buildArgs: { GREETING: 'hello', NPM_TOKEN: 'npm_supersecret' },
      labels: {},
      target: 'runtime',
      cacheFrom: [],
      cacheTo: [],
      source: undefined,
      version: undefined,
      workspaceImages: {},
      verbose: false,
      env,
    });
    const head = (await exec('git', ['rev-parse', 'HEAD'], { cwd: root })).stdout.trim();
    const provenance = readBuildProvenance(artifactDir) as BuildProvenance;
    expect(provenance).toMatchObject({
      schemaVersion: 1,
      project: 'app',
      digest: record.digest,
      externalParameters: { dockerfile: 'apps/app/Dockerfile', context: 'apps/app', platforms: record.platforms, target: 'runtime', buildArgs: { GREETING: 'hello', NPM_TOKEN: '<withheld>' } },
      // The remote without its token, the commit built, the branch, a clean tree.
      source: { uri: 'git+https://github.com/auren/platform.git', commit: head, ref: 'refs/heads/main', dirty: false },
      packageLocks: [{ platform: record.platforms[0], path: '/usr/share/auren/packages.lock', sha256: createHash('sha256').update(LOCK).digest('hex') }],
      builder: { name: 'buildah', version: record.builder.version },
      runner: { id: LOCAL_BUILDER_ID },
    });
    expect(JSON.stringify(provenance)).not.toContain('ghp_notARealToken1234');
    expect(JSON.stringify(provenance)).not.toContain('npm_supersecret');
    expect(Date.parse(provenance.startedOn)).toBeLessThanOrEqual(Date.parse(provenance.finishedOn));

    // A released image fetched instead of built: image.json is rewritten, and no provenance.json
    // of an earlier build is left to describe it.
    await writeImageRecord({ name: 'app', artifactDir }, await readOciLayout(join(artifactDir, 'oci')), undefined);
    expect(existsSync(join(artifactDir, 'provenance.json'))).toBe(false);
  }, 240_000);
});
