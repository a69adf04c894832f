import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '../registry/digest';
import { mergePlatformFindings } from './vulnerability-run';
import { trivyAdapter, trivyCacheDir } from './trivy';
import { withTrivyCacheLock } from './trivy-db';
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

describe('one trivy at a time per cache folder (withTrivyCacheLock)', () => {
  it('tasks of one process take the lock in the order they asked, never two at once, and a failing one lets the next go', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'auren-trivy-lock-'));
    try {
      const events: string[] = [];
      let inside = 0;
      // The same folder however it is spelled.
      const task = (id: string, fail = false, folder = cache) =>
        withTrivyCacheLock(folder, async () => {
          inside++;
          events.push(`${id} in ${inside}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
          inside--;
          events.push(`${id} out`);
          if (fail) throw new Error(`${id} failed`);
          return id;
        });
      const results = await Promise.allSettled([task('a'), task('b', true), task('c'), task('d', false, `${cache}/./`)]);
      expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b failed', 'c', 'd']);
      expect(events).toEqual(['a in 1', 'a out', 'b in 1', 'b out', 'c in 1', 'c out', 'd in 1', 'd out']);
      expect(existsSync(join(cache, 'auren-scan.lock'))).toBe(false);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
