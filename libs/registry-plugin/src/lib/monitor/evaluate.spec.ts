import { evaluate, levelAbove, levelBelow, type Measurements } from './evaluate';
import { DEFAULT_THRESHOLDS, monitorOptionsFromNxJson, normalizeMonitorOptions } from './options';
import { renderPrometheus } from './render-prometheus';
import type { ImageReport, MonitorReport } from './report';

const GB = 1_000_000_000;
const MB = 1_000_000;

function measurements(overrides: { size?: number; critical?: number; storagePercent?: number; success?: [number, number]; pullMs?: number; reachable?: boolean } = {}): Measurements {
  const image: ImageReport = {
    digest: `sha256:${'1'.repeat(64)}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    tags: ['1.0.0'],
    version: '1.0.0',
    platforms: [{ platform: 'linux/amd64', digest: `sha256:${'1'.repeat(64)}`, configBytes: 1000, layerBytes: (overrides.size ?? 100 * MB) - 1000, layers: 3, sizeBytes: overrides.size ?? 100 * MB }],
    sizeBytes: overrides.size ?? 100 * MB,
    vulnerabilities: overrides.critical === undefined ? undefined : { source: 'scan-report', at: '2025-01-01T00:00:00Z', counts: { CRITICAL: overrides.critical, HIGH: 0 } },
  };
  const [ok, failed] = overrides.success ?? [100, 0];
  return {
    registry: 'registry.example',
    reachability: overrides.reachable === false ? { reachable: false, error: 'ECONNREFUSED' } : { reachable: true, latencyMs: 12 },
    storage:
      overrides.storagePercent === undefined
        ? { uniqueBlobBytes: 5, uniqueBlobs: 1, basis: 'none' }
        : { uniqueBlobBytes: 5, uniqueBlobs: 1, basis: 'quota', usedBytes: overrides.storagePercent * MB, quotaBytes: 100 * MB, percent: overrides.storagePercent },
    repositories: [{ name: 'auren/auren-api', app: 'auren-api', tagCount: 1, images: [image], newest: image.digest }],
    pushes: { window: '7d', since: '', total: ok + failed, succeeded: ok, failed, successPercent: ok + failed ? (ok / (ok + failed)) * 100 : undefined, byRepository: [], recentFailures: [] },
    pulls: overrides.pullMs === undefined ? [] : [{ repository: 'auren/auren-api', reference: '1.0.0', digest: image.digest, platform: 'linux/amd64', bytes: 1, durationMs: overrides.pullMs }],
  };
}

const level = (m: Measurements, metric: string) => evaluate(m, DEFAULT_THRESHOLDS).find((c) => c.metric === metric)?.level;

describe('evaluate against the health table (defaults)', () => {
  it.each([
    [100 * MB, 'ok'],
    [499 * MB, 'ok'],
    [500 * MB, 'warn'],
    [600 * MB, 'warn'],
    [GB, 'warn'],
    [1.1 * GB, 'alert'],
  ])('image size %d bytes → %s', (size, expected) => expect(level(measurements({ size }), 'image-size')).toBe(expected));

  it('names the image, platform and alert level when a 1.1 GB image alerts', () => {
    const check = evaluate(measurements({ size: 1.1 * GB }), DEFAULT_THRESHOLDS).find((c) => c.metric === 'image-size')!;
    expect(check.message).toBe('ALERT: image size of auren/auren-api:1.0.0 (linux/amd64) is 1.1 GB, above the alert level 1.0 GB');
  });

  it.each([
    [undefined, 'no-data'],
    [0, 'ok'],
    [1, 'alert'],
  ])('critical vulnerabilities %s → %s', (critical, expected) => expect(level(measurements({ critical }), 'critical-vulnerabilities')).toBe(expected));

  it.each([
    [undefined, 'no-data'],
    [50, 'ok'],
    [80, 'warn'],
    [90, 'warn'],
    [90.5, 'alert'],
  ])('storage %s%% → %s', (storagePercent, expected) => expect(level(measurements({ storagePercent }), 'storage')).toBe(expected));

  it.each([
    [[0, 0], 'no-data'],
    [[100, 0], 'ok'],
    [[995, 5], 'ok'],
    [[99, 1], 'warn'],
    [[95, 5], 'warn'],
    [[94, 6], 'alert'],
  ] as Array<[[number, number], string]>)('push success %j → %s', (success, expected) => expect(level(measurements({ success }), 'push-success-rate')).toBe(expected));

  it.each([
    [1_000, 'ok'],
    [30_000, 'warn'],
    [60_000, 'warn'],
    [61_000, 'alert'],
  ])('pull %d ms → %s', (pullMs, expected) => expect(level(measurements({ pullMs }), 'pull-latency')).toBe(expected));

  it('alerts when the registry is unreachable', () => {
    expect(level(measurements({ reachable: false }), 'reachability')).toBe('alert');
  });

  it.each([
    [5, 10, 20, 'ok'],
    [10, 10, 20, 'warn'],
    [21, 10, 20, 'alert'],
  ])('levelAbove(%d, target %d, alert %d) → %s', (v, t, a, expected) => expect(levelAbove(v, t, a)).toBe(expected));

  it.each([
    [100, 99, 95, 'ok'],
    [99, 99, 95, 'warn'],
    [94.9, 99, 95, 'alert'],
  ])('levelBelow(%d, target %d, alert %d) → %s', (v, t, a, expected) => expect(levelBelow(v, t, a)).toBe(expected));
});

describe('normalizeMonitorOptions', () => {
  const context = { workspaceRoot: '/ws', registry: 'registry.example', env: {} };

  it('defaults to the health table', () => {
    expect(normalizeMonitorOptions(undefined, context)).toEqual({
      thresholds: DEFAULT_THRESHOLDS,
      quotaBytes: undefined,
      dataDir: undefined,
      repositories: undefined,
      window: '7d',
      concurrency: 16,
      pullTest: true,
    });
  });

  it('finds the embedded registry data folder for the default local registry', () => {
    expect(normalizeMonitorOptions({}, { workspaceRoot: '/ws', registry: '127.0.0.1:5000', env: {} }).dataDir).toBe('/ws/.auren/registry/data');
    expect(normalizeMonitorOptions({ dataDir: 'reg/data' }, context).dataDir).toBe('/ws/reg/data');
  });

  // The serve script's variables, read as lib/config/embedded-registry.ts reads them for gc and cleanup.
  it.each([
    ['moved address and folder', '127.0.0.1:5123', { AUREN_LOCAL_REGISTRY_ADDR: '127.0.0.1:5123', AUREN_LOCAL_REGISTRY_DIR: 'tmp/reg' }, '/ws/tmp/reg/data'],
    ['an absolute folder', '127.0.0.1:5000', { AUREN_LOCAL_REGISTRY_DIR: '/srv/reg' }, '/srv/reg/data'],
    ['empty variables are unset', '127.0.0.1:5000', { AUREN_LOCAL_REGISTRY_ADDR: '', AUREN_LOCAL_REGISTRY_DIR: '' }, '/ws/.auren/registry/data'],
    ['another registry on loopback', '127.0.0.1:5000', { AUREN_LOCAL_REGISTRY_ADDR: '127.0.0.1:5123' }, undefined],
  ])('the embedded registry by its variables: %s', (_, registry, env, dataDir) => {
    expect(normalizeMonitorOptions({}, { workspaceRoot: '/ws', registry, env }).dataDir).toBe(dataDir);
  });

  it('reads its section from the plugin entry of nx.json', () => {
    const plugins = ['@nx/js/typescript', { plugin: '@auren/registry-plugin', options: { registry: 'ghcr.io', monitor: { window: '3d' } } }];
    expect(monitorOptionsFromNxJson({ plugins })).toEqual({ window: '3d' });
    expect(monitorOptionsFromNxJson({ plugins: ['@auren/registry-plugin'] })).toBeUndefined();
    expect(monitorOptionsFromNxJson({ plugins: [{ plugin: '@auren/registry-plugin' }] })).toBeUndefined();
    expect(monitorOptionsFromNxJson(undefined)).toBeUndefined();
  });

  it.each([
    [{ thresholds: { imageSizeTargetBytes: 2 * GB } }, /image size alert level .* below its target/],
    [{ thresholds: { pushSuccessAlertPercent: 99.5 } }, /push success rate alert level .* above its target/],
    [{ thresholds: { storageAlertPercent: 120 } }, /storageAlertPercent/],
    [{ thresholds: { pullLatencyAlertSeconds: -1 } }, /pullLatencyAlertSeconds/],
    [{ concurrency: 0 }, /concurrency/],
    [{ concurrency: 2.5 }, /concurrency/],
  ])('rejects %j', (options, message) => {
    expect(() => normalizeMonitorOptions(options as never, context)).toThrow(message);
  });
});

describe('Prometheus text format', () => {
  it('escapes label values and help text so a real parser reads them back', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const parse = require('parse-prometheus-text-format') as (text: string) => Array<{ name: string; metrics: Array<{ labels?: Record<string, string> }> }>;
    const m = measurements({ critical: 0 });
    const report: MonitorReport = {
      ...m,
      schemaVersion: 1,
      generatedAt: '2025-01-01T00:00:00.000Z',
      namespace: 'auren',
      checks: [{ metric: 'storage', subject: 'weird "quoted" \\ back\nslash', level: 'ok', unit: 'percent', message: '' }],
      status: 'ok',
      durationMs: 1,
      requests: 1,
    };
    const families = parse(renderPrometheus(report));
    const check = families.find((f) => f.name === 'auren_registry_check_level')!;
    expect(check.metrics[0].labels?.subject).toBe('weird "quoted" \\ back\nslash');
    expect(families.find((f) => f.name === 'auren_registry_image_vulnerabilities')!.metrics.map((x) => x.labels?.severity)).toEqual(['critical', 'high']);
  });
});
