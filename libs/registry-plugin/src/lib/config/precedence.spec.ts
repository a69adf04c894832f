import { embeddedRegistry } from './embedded-registry';
import { normalizeOptions, type RegistryPluginOptions } from './options';
import { buildSettings, isDryRun, scanSettings, type BuildTargetOptions, type ScanTargetOptions } from './precedence';
import { imageName, projectRepository, repositoryOfProject, repositoryPath } from './repository';

/**
 * The one rule, for every setting that has more than one source:
 * environment > target option (a command-line flag included) > nx.json plugin options > default.
 * Each row gives the sources that are set and the one that must win.
 */
type Row = [setting: string, option: unknown, env: NodeJS.ProcessEnv, nxJson: RegistryPluginOptions, expected: unknown];

const resolve: Record<string, (option: unknown, env: NodeJS.ProcessEnv, nxJson: RegistryPluginOptions) => unknown> = {
  builder: (option, env, nxJson) => buildSettings({ builder: option as BuildTargetOptions['builder'] }, normalizeOptions(nxJson, env), 'api', env).builder,
  platforms: (option, env, nxJson) => buildSettings({ platforms: option as string[] | string | undefined }, normalizeOptions(nxJson, env), 'api', env).platforms,
  registryCache: (option, env, nxJson) => buildSettings({ registryCache: option as boolean | undefined }, normalizeOptions(nxJson, env), 'api', env).cacheRepository,
  scanner: (option, env, nxJson) => scanSettings({ scanner: option as ScanTargetOptions['scanner'] }, normalizeOptions(nxJson, env).scan, env).scanner,
  severity: (option, env, nxJson) => scanSettings({ severity: option as ScanTargetOptions['severity'] }, normalizeOptions(nxJson, env).scan, env).severity,
  ignoreUnfixed: (option, env, nxJson) => scanSettings({ ignoreUnfixed: option as boolean | undefined }, normalizeOptions(nxJson, env).scan, env).ignoreUnfixed,
  registry: (_option, env, nxJson) => {
    const config = normalizeOptions(nxJson, env);
    return `${config.registry}/${config.namespace}`;
  },
  signing: (_option, env, nxJson) => normalizeOptions(nxJson, env).signing.mode,
  localRegistryAddress: (option, env) => embeddedRegistry('/ws', env, { address: option as string | undefined }).address,
  localRegistryDir: (option, env) => embeddedRegistry('/ws', env, { dir: option as string | undefined }).dir,
};

const rows: Row[] = [
  // builder: AUREN_BUILDER, the option, nx.json's builder, auto
  ['builder', 'podman', { AUREN_BUILDER: 'docker' }, { builder: 'buildah' }, 'docker'],
  ['builder', 'podman', {}, { builder: 'buildah' }, 'podman'],
  ['builder', undefined, { AUREN_BUILDER: 'docker' }, { builder: 'buildah' }, 'docker'],
  ['builder', undefined, { AUREN_BUILDER: '' }, { builder: 'buildah' }, 'buildah'],
  ['builder', 'podman', { AUREN_BUILDER: ' docker ' }, { builder: 'buildah' }, 'docker'],
  ['builder', undefined, { AUREN_BUILDER: '  ' }, { builder: 'buildah' }, 'buildah'],
  ['builder', undefined, {}, {}, 'auto'],
  // platforms: AUREN_PLATFORMS, the option, the builder's own (nx.json has no platforms)
  ['platforms', ['linux/arm64'], { AUREN_PLATFORMS: 'linux/amd64,linux/arm64' }, {}, ['linux/amd64', 'linux/arm64']],
  ['platforms', 'linux/arm64, linux/amd64', { AUREN_PLATFORMS: 'linux/amd64' }, {}, ['linux/amd64']],
  ['platforms', 'linux/arm64, linux/amd64', {}, {}, ['linux/arm64', 'linux/amd64']],
  ['platforms', ['linux/amd64', 'linux/arm64'], { AUREN_PLATFORMS: ' ' }, {}, ['linux/amd64', 'linux/arm64']],
  ['platforms', [], { AUREN_PLATFORMS: 'linux/amd64, linux/arm64' }, {}, ['linux/amd64', 'linux/arm64']],
  ['platforms', undefined, { AUREN_PLATFORMS: ' ' }, {}, []],
  ['platforms', undefined, {}, {}, []],
  // the registry layer cache: AUREN_CACHE_REPO (also its prefix), registryCache, off
  ['registryCache', false, { AUREN_CACHE_REPO: 'ci.example/team/buildcache' }, {}, 'ci.example/team/buildcache/api'],
  ['registryCache', false, {}, {}, undefined],
  ['registryCache', true, { AUREN_CACHE_REPO: 'ci.example/team/buildcache/' }, {}, 'ci.example/team/buildcache/api'],
  ['registryCache', true, {}, { registry: 'ghcr.io', namespace: 'org' }, 'ghcr.io/org/buildcache/api'],
  ['registryCache', true, {}, { registry: 'ghcr.io', namespace: '' }, 'ghcr.io/buildcache/api'],
  ['registryCache', undefined, { AUREN_CACHE_REPO: 'ci.example/team/buildcache' }, {}, 'ci.example/team/buildcache/api'],
  ['registryCache', undefined, {}, {}, undefined],
  // scanner: AUREN_SCANNER, the scan option, nx.json's scan.scanner, trivy
  ['scanner', 'trivy', { AUREN_SCANNER: 'grype' }, { scan: { scanner: 'grype' } }, 'grype'],
  ['scanner', 'trivy', {}, { scan: { scanner: 'grype' } }, 'trivy'],
  ['scanner', undefined, { AUREN_SCANNER: 'grype' }, { scan: { scanner: 'trivy' } }, 'grype'],
  ['scanner', undefined, {}, { scan: { scanner: 'grype' } }, 'grype'],
  ['scanner', undefined, {}, {}, 'trivy'],
  ['scanner', undefined, { AUREN_SCANNER: ' ' }, { scan: { scanner: 'grype' } }, 'grype'],
  // severity and ignoreUnfixed: the option, nx.json, the default (no variable)
  ['severity', ['CRITICAL'], {}, { scan: { severity: ['LOW'] } }, ['CRITICAL']],
  ['severity', undefined, {}, { scan: { severity: ['LOW'] } }, ['LOW']],
  ['severity', undefined, {}, {}, ['HIGH', 'CRITICAL']],
  ['ignoreUnfixed', false, {}, { scan: { ignoreUnfixed: true } }, false],
  ['ignoreUnfixed', undefined, {}, { scan: { ignoreUnfixed: true } }, true],
  ['ignoreUnfixed', undefined, {}, {}, false],
  // registry and namespace: AUREN_REGISTRY, nx.json, the embedded registry (no target option)
  ['registry', undefined, { AUREN_REGISTRY: 'ci.example:5443/team' }, { registry: 'ghcr.io', namespace: 'org' }, 'ci.example:5443/team'],
  ['registry', undefined, { AUREN_REGISTRY: 'ci.example:5443' }, { registry: 'ghcr.io', namespace: 'org' }, 'ci.example:5443/org'],
  ['registry', undefined, {}, { registry: 'ghcr.io', namespace: 'org' }, 'ghcr.io/org'],
  ['registry', undefined, {}, {}, '127.0.0.1:5000/auren'],
  // signing: AUREN_SIGNING_KEY, nx.json's signing, the local key pair
  ['signing', undefined, { AUREN_SIGNING_KEY: 'awskms:///alias/ci' }, { signing: false }, 'key'],
  ['signing', undefined, {}, { signing: { publicKey: 'cosign.pub' } }, 'none'],
  ['signing', undefined, {}, {}, 'local'],
  // the embedded registry: AUREN_LOCAL_REGISTRY_*, the serve options, its defaults
  ['localRegistryAddress', '127.0.0.1:5999', { AUREN_LOCAL_REGISTRY_ADDR: '127.0.0.1:5001' }, {}, '127.0.0.1:5001'],
  ['localRegistryAddress', '127.0.0.1:5999', {}, {}, '127.0.0.1:5999'],
  ['localRegistryAddress', undefined, { AUREN_LOCAL_REGISTRY_ADDR: '127.0.0.1:5001' }, {}, '127.0.0.1:5001'],
  ['localRegistryAddress', undefined, { AUREN_LOCAL_REGISTRY_ADDR: '' }, {}, '127.0.0.1:5000'],
  ['localRegistryDir', 'tmp/reg', { AUREN_LOCAL_REGISTRY_DIR: '/elsewhere' }, {}, '/elsewhere'],
  ['localRegistryDir', 'tmp/reg', {}, {}, '/ws/tmp/reg'],
  ['localRegistryDir', undefined, { AUREN_LOCAL_REGISTRY_DIR: '/elsewhere' }, {}, '/elsewhere'],
  ['localRegistryDir', undefined, { AUREN_LOCAL_REGISTRY_DIR: 'reg' }, {}, '/ws/reg'],
  ['localRegistryDir', undefined, {}, {}, '/ws/.auren/registry'],
];

describe('the precedence rule: environment > option > nx.json > default', () => {
  it.each(rows)('%s: option %j, environment %j, nx.json %j → %j', (setting, option, env, nxJson, expected) => {
    expect(resolve[setting](option, env, nxJson)).toEqual(expected);
  });

  it('has a row for every setting, at every level it has', () => {
    expect(new Set(rows.map(([setting]) => setting))).toEqual(new Set(Object.keys(resolve)));
  });

  it('refuses an AUREN_BUILDER the builder option would refuse', () => {
    expect(() => normalizeOptions({}, { AUREN_BUILDER: 'kaniko' })).toThrow('environment variable AUREN_BUILDER must be one of auto, buildah, docker, podman, got the string "kaniko"');
  });

  it('the embedded registry keeps its files in one folder', () => {
    expect(embeddedRegistry('/ws', {})).toEqual({
      address: '127.0.0.1:5000',
      dir: '/ws/.auren/registry',
      dataDir: '/ws/.auren/registry/data',
      configPath: '/ws/.auren/registry/config.yml',
      pidFile: '/ws/.auren/registry/registry.pid',
    });
  });
});

describe('dry run: the option or NX_DRY_RUN, either one', () => {
  it.each([
    [{ dryRun: true }, {}, true],
    [{ dryRun: false }, { NX_DRY_RUN: 'true' }, true],
    [{}, { NX_DRY_RUN: '1' }, true],
    [{}, { NX_DRY_RUN: 'false' }, false],
    [{ dryRun: false }, {}, false],
    [{}, {}, false],
  ])('options %j, environment %j → %s', (options, env, expected) => {
    expect(isDryRun(options, env)).toBe(expected);
  });
});

describe('the repository of a project', () => {
  const projects = {
    'base-image': { targets: { 'docker-push': { options: { repository: 'base-debian', extraTags: ['bookworm'] } } } },
    api: { targets: { 'docker-push': { options: {} } } },
    web: { targets: { 'docker-build': { options: { repository: 'not-this-one' } } } },
    docs: {},
  };

  it.each([
    ['base-image', 'base-debian'],
    ['api', 'api'],
    ['web', 'web'],
    ['docs', 'docs'],
    ['unknown', 'unknown'],
  ])('%s → %s', (name, expected) => {
    expect(repositoryOfProject(projects, name)).toBe(expected);
  });

  it.each([
    [{ repository: 'base-debian' }, 'base-debian'],
    [{}, 'api'],
    [undefined, 'api'],
  ])('docker-push options %j → %s', (options, expected) => {
    expect(projectRepository('api', options)).toBe(expected);
  });

  it.each([
    [{ registry: 'ghcr.io', namespace: 'org/auren' }, 'base-debian', 'org/auren/base-debian', 'ghcr.io/org/auren/base-debian'],
    [{ registry: '127.0.0.1:5000', namespace: '' }, 'api', 'api', '127.0.0.1:5000/api'],
  ])('under %j, %s is %s, image %s', (config, repository, path, image) => {
    expect(repositoryPath(config, repository)).toBe(path);
    expect(imageName(config, repository)).toBe(image);
  });
});
