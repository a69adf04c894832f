import { normalizeOptions } from '../config/options';
import { createTestRepo } from '../git/repo.testing';
import { buildImage, normalizeBuildImageOptions, type BuildImageTargetOptions } from './build-image';
import { normalizeScanImageOptions } from './scan-image';

const project = { name: 'api', root: 'apps/api', artifactDir: '/ws/dist/images/api', inputRoots: ['apps/api'], repository: 'api-server' };
const config = normalizeOptions({ registry: '127.0.0.1:5000', namespace: 'auren', scan: { severity: ['CRITICAL'] } }, {});

describe('normalizeBuildImageOptions', () => {
  const normalize = (options: BuildImageTargetOptions, env: NodeJS.ProcessEnv = {}) =>
    normalizeBuildImageOptions(options, { workspaceRoot: '/ws', project, config, dependencies: [], env });

  it('fills every default', () => {
    expect(normalize({})).toMatchObject({
      dockerfile: 'apps/api/Dockerfile',
      context: 'apps/api',
      settings: { builder: 'auto', platforms: [], cacheRepository: undefined },
      buildArgs: {},
      labels: {},
      target: undefined,
      cacheFrom: [],
      cacheTo: [],
      verbose: true,
      prebuild: [],
      rebuild: false,
    });
  });

  it.each<[string, BuildImageTargetOptions, NodeJS.ProcessEnv, string[]]>([
    ['the registry cache after the ones the target names', { registryCache: true, cacheFrom: ['r.example/cache'] }, {}, ['r.example/cache', '127.0.0.1:5000/auren/buildcache/api']],
    ['AUREN_CACHE_REPO for a target that does not choose', { cacheFrom: ['r.example/cache'] }, { AUREN_CACHE_REPO: 'ci.example/buildcache' }, ['r.example/cache', 'ci.example/buildcache/api']],
    ['AUREN_CACHE_REPO even where the target turns it off (the environment wins)', { registryCache: false }, { AUREN_CACHE_REPO: 'ci.example/buildcache' }, ['ci.example/buildcache/api']],
    ['no registry cache when the target turns it off and CI does not ask', { registryCache: false }, {}, []],
  ])('%s', (_name, options, env, cacheFrom) => {
    const normalized = normalize(options, env);
    expect(normalized.cacheFrom).toEqual(cacheFrom);
    expect(normalized.cacheTo).toEqual(cacheFrom.filter((ref) => ref !== 'r.example/cache'));
  });
});

describe('normalizeScanImageOptions', () => {
  it('puts the target options over config.scan and keeps the project repository', () => {
    const normalized = normalizeScanImageOptions({ ignoreUnfixed: true }, { workspaceRoot: '/ws', project, config }, {});
    expect(normalized.policy).toEqual({ ...config.scan, ignoreUnfixed: true });
    expect(normalized.policy.severity).toEqual(['CRITICAL']);
    expect(normalized.project.repository).toBe('api-server');
    expect(normalized.allowRootUser).toBe(false);
  });
});

describe('buildImage and git', () => {
  it('stops before building on a detached HEAD without AUREN_BRANCH, with the hint, rather than build an image without its labels', async () => {
    const repo = await createTestRepo();
    try {
      const sha = await repo.commit('feat(api): first', ['api']);
      await repo.checkout(sha);
      const exec = jest.fn();
      const options = normalizeBuildImageOptions({}, { workspaceRoot: repo.dir, project: { ...project, root: 'apps/api' }, config, dependencies: [], env: {} });
      const built = buildImage(options, { env: { PATH: process.env.PATH }, log: () => undefined, exec });
      await expect(built).rejects.toThrow(`HEAD is detached at ${sha.slice(0, 7)} and no branch name was given`);
      await expect(built).rejects.toMatchObject({ hint: expect.stringContaining('AUREN_BRANCH') });
      expect(exec).not.toHaveBeenCalled();
    } finally {
      await repo.cleanup();
    }
  });
});
