import { AurenError } from '../errors/errors';
import { historyRepository } from '../history/store';
import { ociLabels } from '../pipeline/build';
import { isLoopbackRegistry, isPluginEntry, normalizeOptions, parseRegistryOverride, pluginOptions, registryOverride, retentionFor } from './options';

describe('normalizeOptions', () => {
  it('fills every default', () => {
    const config = normalizeOptions({}, {});
    expect(config.registry).toBe('127.0.0.1:5000');
    expect(config.namespace).toBe('auren');
    expect(config.scan.severity).toEqual(['HIGH', 'CRITICAL']);
    expect(config.scan.allowUnscanned).toBe('loopback');
    expect(config.retention.keepReleases).toBe(10);
    expect(config.budgets.failBytes).toBe(1_000_000_000);
  });

  it('names the vendor label and the push history repository, AUREN and auren-history unless set', () => {
    const project = { name: 'hello', root: 'apps/hello', artifactDir: 'dist/images/hello' };
    const defaults = normalizeOptions({}, {});
    expect(ociLabels({ project, source: undefined, version: undefined, config: defaults }, undefined, 'buildah')['org.opencontainers.image.vendor']).toBe('AUREN');
    expect(historyRepository(defaults.namespace, defaults.historyRepository)).toBe('auren/auren-history');
    const acme = normalizeOptions({ namespace: 'acme', vendor: 'Acme Corp', historyRepository: 'push-log' }, {});
    expect(ociLabels({ project, source: undefined, version: undefined, config: acme }, undefined, 'buildah')['org.opencontainers.image.vendor']).toBe('Acme Corp');
    expect(historyRepository(acme.namespace, acme.historyRepository)).toBe('acme/push-log');
    expect(() => normalizeOptions({ historyRepository: 'Push/Log' }, {})).toThrow(/historyRepository/);
    expect(() => normalizeOptions({ vendor: '' }, {})).toThrow(/vendor/);
  });

  it('lets AUREN_REGISTRY override registry and namespace', () => {
    const config = normalizeOptions({ registry: 'ghcr.io', namespace: 'org' }, { AUREN_REGISTRY: '127.0.0.1:5123/team/auren' });
    expect(config.registry).toBe('127.0.0.1:5123');
    expect(config.namespace).toBe('team/auren');
  });

  it('expands {registry} in base image mappings', () => {
    const config = normalizeOptions({ baseImages: { 'debian:bookworm-slim': '{registry}/base/debian:bookworm' } }, { AUREN_REGISTRY: 'localhost:6000' });
    expect(config.baseImages['debian:bookworm-slim']).toBe('localhost:6000/base/debian:bookworm');
  });

  it.each([
    [{ registry: 'http://127.0.0.1:5000' }, /invalid registry address/],
    [{ registry: '127.0.0.1:99999' }, /invalid registry address/],
    [{ namespace: 'Upper/Case' }, /invalid registry namespace/],
    [{ builder: 'kaniko' }, /option builder must be one of auto, buildah, docker, podman/],
    [{ scan: { severity: ['SEVERE'] } }, /option scan.severity\[0\] must be one of UNKNOWN/],
    [{ scan: { ignore: [{ id: 'CVE-1', expires: 'tomorrow' }] } }, /YYYY-MM-DD/],
    [{ retention: { keepReleases: -1 } }, /retention.keepReleases/],
    [{ retention: { keepPatterns: 'latest' } }, /retention.keepPatterns/],
    [{ retention: { overrides: { 'auren-api': { keepReleases: 'five' } } } }, /retention.overrides.auren-api.keepReleases/],
    [{ retention: { overrides: { 'auren-api': { keepLast: 3 } } } }, /unknown option retention.overrides.auren-api.keepLast/],
    [{ retention: { overrides: ['auren-api'] } }, /option retention.overrides must be an object, got a list/],
  ])('rejects %j with a clear error', (options, message) => {
    expect(() => normalizeOptions(options as never, {})).toThrow(message);
    expect(() => normalizeOptions(options as never, {})).toThrow(AurenError);
  });
});

describe('retentionFor', () => {
  const config = normalizeOptions(
    {
      namespace: 'team',
      retention: { keepReleases: 5, overrides: { 'biometric-bridge': { keepReleases: 30 }, 'team/auren-nginx': { devMaxAgeDays: 7, deleteUntagged: true } } },
    },
    {},
  );
  it.each([
    ['team/auren-api', { keepReleases: 5, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: false }],
    ['team/biometric-bridge', { keepReleases: 30, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: false }],
    ['team/auren-nginx', { keepReleases: 5, keepPatterns: ['latest'], devMaxAgeDays: 7, deleteUntagged: true }],
    ['other/biometric-bridge', { keepReleases: 5, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: false }],
  ])('%s gets its rules (overrides inherit the common ones)', (repository, rules) => {
    expect(retentionFor(config, repository)).toEqual(rules);
  });
});

describe('parseRegistryOverride', () => {
  it.each([
    ['127.0.0.1:5000', '127.0.0.1:5000', undefined],
    ['registry.digitalocean.com/auren-registry', 'registry.digitalocean.com', 'auren-registry'],
    ['localhost:5000/a/b/', 'localhost:5000', 'a/b'],
  ])('%s', (value, registry, namespace) => {
    expect(parseRegistryOverride(value)).toEqual({ registry, namespace });
  });

  it.each(['https://ghcr.io', 'bad host', 'host:0x', 'ghcr.io/UPPER'])('rejects %s', (value) => {
    expect(() => parseRegistryOverride(value)).toThrow(AurenError);
  });
});

describe('registryOverride', () => {
  it.each<[NodeJS.ProcessEnv, ReturnType<typeof registryOverride>]>([
    [{ AUREN_REGISTRY: ' 127.0.0.1:5123/team ' }, { registry: '127.0.0.1:5123', namespace: 'team' }],
    [{ AUREN_REGISTRY: 'ghcr.io' }, { registry: 'ghcr.io', namespace: undefined }],
    [{ AUREN_REGISTRY: '' }, undefined],
    [{ AUREN_REGISTRY: '   ' }, undefined],
    [{}, undefined],
  ])('%j → %j', (env, expected) => {
    expect(registryOverride(env)).toEqual(expected);
  });
});

describe("the plugin's entry in nx.json", () => {
  it.each<[unknown[] | undefined, object]>([
    [['@nx/js/typescript', { plugin: '@auren/registry-plugin', options: { registry: 'ghcr.io' } }], { registry: 'ghcr.io' }],
    [['@auren/registry-plugin'], {}],
    [[{ plugin: '@auren/registry-plugin' }], {}],
    [[{ plugin: '@auren/registry-plugin-extra', options: { registry: 'ghcr.io' } }], {}],
    [undefined, {}],
  ])('plugins %j → options %j', (plugins, expected) => {
    expect(pluginOptions(plugins === undefined ? undefined : { plugins: plugins as never })).toEqual(expected);
  });

  it('is found by name, bare or with options', () => {
    expect(['@auren/registry-plugin', { plugin: '@auren/registry-plugin' }, '@nx/js', { plugin: 'registry-plugin' }].map((entry) => isPluginEntry(entry))).toEqual([true, true, false, false]);
  });
});

describe('isLoopbackRegistry', () => {
  // [registry, loopback?], a few rows a line.
  it.each([
    ['127.0.0.1:5000', true], ['127.3.2.1', true], ['localhost:5000', true], ['[::1]:5000', true],
    ['ghcr.io', false], ['10.0.0.1:5000', false], ['localhost.example.com', false],
  ])('%s → %s', (registry, expected) => {
    expect(isLoopbackRegistry(registry)).toBe(expected);
  });
});
