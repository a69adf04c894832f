import { sha256Digest } from '../registry/digest';
import { mergePlatformFindings } from './vulnerability-run';
import { trivyAdapter, trivyCacheDir } from './trivy';
import { TRIVY_DB_CONFIG_MEDIA_TYPE, TRIVY_DB_LAYER_MEDIA_TYPE, trivyDbManifest, trivyDbRepositories } from './trivy-db-artifact';
import type { Finding } from './types';

describe('the Trivy DB artifact', () => {
  it('has the layout trivy downloads: one titled tar+gzip layer, the trivy config type, UpdatedAt as created', () => {
    const layer = Buffer.from('db');
    const manifest = JSON.parse(trivyDbManifest(layer, Buffer.from('{}'), '2026-11-30T00:00:00Z').toString());
    expect(manifest).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: TRIVY_DB_CONFIG_MEDIA_TYPE, digest: sha256Digest('{}'), size: 2 },
      layers: [{ mediaType: TRIVY_DB_LAYER_MEDIA_TYPE, digest: sha256Digest(layer), size: 2, annotations: { 'org.opencontainers.image.title': 'db.tar.gz' } }],
      annotations: { 'org.opencontainers.image.created': '2026-11-30T00:00:00Z' },
    });
  });

  it.each([
    ['auren', ['auren/trivy-db', 'auren/mirror/aquasecurity/trivy-db']],
    ['', ['trivy-db', 'mirror/aquasecurity/trivy-db']],
  ])('is looked for under namespace %j', (namespace, expected) => {
    expect(trivyDbRepositories(namespace)).toEqual(expected);
  });

  it.each([
    [{ TRIVY_CACHE_DIR: '/c/trivy' }, '/c/trivy'],
    [{ XDG_CACHE_HOME: '/x', HOME: '/h' }, '/x/trivy'],
    [{ HOME: '/h' }, '/h/.cache/trivy'],
  ])('cache folder for %j is %s, as trivy picks it', (env, expected) => {
    expect(trivyCacheDir(env)).toBe(expected);
  });
});

describe('trivy argv', () => {
  it.each([
    [{}, []],
    [{ cacheDir: '/c' }, ['--cache-dir', '/c']],
    [{ cacheDir: '/c', skipDbUpdate: true }, ['--cache-dir', '/c', '--skip-db-update']],
  ])('with %j ends with %j', (extra, tail) => {
    const args = trivyAdapter.scanArgs({ layoutDir: '/l', digest: 'sha256:ab', outputFile: '/o.json', ...extra });
    expect(args).toEqual(['image', '--input', '/l@sha256:ab', '--scanners', 'vuln', '--format', 'json', '--list-all-pkgs=true', '--output', '/o.json', '--quiet', '--skip-version-check', '--disable-telemetry', ...tail]);
  });
});

describe('mergePlatformFindings', () => {
  const f = (id: string, pkg: string, version = '1'): Finding => ({ id, severity: 'HIGH', pkgName: pkg, installedVersion: version });
  it('names every platform a finding is on, and keeps different package versions apart', () => {
    const merged = mergePlatformFindings([
      { platform: 'linux/amd64', findings: [f('CVE-1', 'a'), f('CVE-2', 'b')] },
      { platform: 'linux/arm64', findings: [f('CVE-1', 'a'), f('CVE-2', 'b', '2')] },
    ]);
    expect(merged.map((m) => `${m.id} ${m.pkgName} ${m.installedVersion} ${m.platforms?.join(',')}`)).toEqual([
      'CVE-1 a 1 linux/amd64,linux/arm64',
      'CVE-2 b 1 linux/amd64',
      'CVE-2 b 2 linux/arm64',
    ]);
  });
});
