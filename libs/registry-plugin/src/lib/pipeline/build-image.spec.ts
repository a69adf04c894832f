import { normalizeOptions } from '../config/options';
import { normalizeBuildImageOptions, type BuildImageTargetOptions } from './build-image';
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
