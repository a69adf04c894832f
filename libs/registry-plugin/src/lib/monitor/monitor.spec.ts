import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseCommandLine } from '../../cli/options';
import { monitorCommand } from '../../cli/commands/monitor';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { historyRepository, recordPushEvent } from '../history';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import { pushTestImage, pushIndex, scanReportJson, type PushedImage } from './fixtures.testing';
import type { MonitorReport } from './report';

type PrometheusFamily = { name: string; help: string; type: string; metrics: Array<{ value: string; labels?: Record<string, string> }> };
/** The real Prometheus text-format parser (devDependency parse-prometheus-text-format). */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const parsePrometheus = (text: string): PrometheusFamily[] => require('parse-prometheus-text-format')(text);

const WORKSPACE_ROOT = resolve(__dirname, '../../../../..');
const ARTIFACTS = join(WORKSPACE_ROOT, 'tmp/test-artifacts');

describe('monitor against a real registry', () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  let temp: string;
  const images: PushedImage[] = [];
  const day = (n: number) => new Date(Date.UTC(2025, 0, 1 + n)).toISOString();

  beforeAll(async () => {
    registry = await startTestRegistry();
    client = createRegistryClient({ registry: registry.host });
    temp = await mkdtemp(join(tmpdir(), 'auren-monitor-'));
    const kb = (n: number) => n * 1024;
    images.push(await pushTestImage(client, 'auren/auren-api', ['1.0.0'], [kb(3), kb(5)], day(0)));
    images.push(await pushTestImage(client, 'auren/auren-api', ['1.1.0'], [kb(3), kb(9)], day(3)));
    images.push(await pushTestImage(client, 'auren/auren-api', ['1.2.0', 'latest', 'main-abc1234'], [kb(4), kb(12), kb(1)], day(7)));
    images.push(await pushTestImage(client, 'auren/biometric-bridge', ['1.0.0'], [kb(8)], day(1)));
    images.push(
      await pushIndex(
        client,
        'auren/biometric-bridge',
        ['2.0.0', 'latest'],
        [
          { platform: { os: 'linux', architecture: 'amd64' }, layerSizes: [kb(10), kb(6)] },
          { platform: { os: 'linux', architecture: 'arm64' }, layerSizes: [kb(7), kb(2), kb(3)] },
        ],
        day(6),
      ),
    );
    images.push(await pushTestImage(client, 'auren/auren-nginx', ['0.1.0'], [kb(2)], day(2)));
    images.push(await pushTestImage(client, 'auren/auren-nginx', ['0.2.0', 'latest'], [kb(2), kb(3)], day(5)));
    // A healthy push history with scan counts (the vulnerability source when no report is on disk).
    for (const image of images) {
      await recordPushEvent(client, historyRepository('auren'), {
        outcome: 'success',
        project: image.repo.split('/')[1],
        registry: registry.host,
        repository: image.repo,
        digest: image.digest,
        tags: image.tags,
        scan: { verdict: 'pass', critical: 0, high: image.tags.length, medium: 2, low: 1 },
      });
    }
  });
  afterAll(async () => {
    await registry?.stop();
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  /** A workspace folder with nx.json pointing at the test registry, and the CLI run in it. */
  async function workspace(name: string, monitor: Record<string, unknown> = {}, namespace = 'auren'): Promise<string> {
    const dir = join(temp, name);
    await mkdir(dir, { recursive: true });
    const options = { registry: registry.host, namespace, monitor: { quotaBytes: 1_000_000_000, dataDir: registry.dataDir, ...monitor } };
    await writeFile(join(dir, 'nx.json'), JSON.stringify({ plugins: [{ plugin: '@auren/registry-plugin', options }] }));
    return dir;
  }

  async function run(cwd: string, args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await monitorCommand.run(parseCommandLine('monitor', monitorCommand.spec, args), { cwd, env: { PATH: process.env.PATH }, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    return { code, stdout, stderr };
  }

  it('reports config + layer sizes per platform for every image, and passes when healthy', async () => {
    const { code, stdout, stderr } = await run(await workspace('healthy'), ['--format', 'json']);
    const report = JSON.parse(stdout) as MonitorReport;
    expect(stderr).not.toMatch(/ALERT/);
    expect(code).toBe(0);
    expect(report.status).not.toBe('alert');
    expect(report.repositories.map((r) => r.name)).toEqual(['auren/auren-api', 'auren/auren-nginx', 'auren/biometric-bridge']);
    for (const pushed of images) {
      const repo = report.repositories.find((r) => r.name === pushed.repo)!;
      const image = repo.images.find((i) => i.digest === pushed.digest)!;
      expect(image.tags).toEqual([...pushed.tags].sort());
      expect(image.platforms.map((p) => [p.platform, p.digest, p.configBytes, p.layerBytes, p.sizeBytes])).toEqual(
        pushed.platforms.map((p) => [p.platform, p.digest, p.configBytes, p.layerBytes, p.configBytes + p.layerBytes]),
      );
      expect(image.created).toBe(pushed.created);
    }
    const bridge = report.repositories.find((r) => r.name === 'auren/biometric-bridge')!;
    expect(bridge.newest).toBe(images[4].digest);
    expect(bridge.images[0].platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    // Storage: distinct blobs across repositories, counted once, plus the disk by statfs.
    expect(report.storage.basis).toBe('quota');
    expect(report.storage.uniqueBlobBytes).toBeGreaterThan(images.reduce((n, i) => n + i.platforms.reduce((m, p) => m + p.sizeBytes, 0), 0));
    expect(report.storage.disk?.totalBytes).toBeGreaterThan(0);
    expect(report.pushes).toMatchObject({ total: images.length, succeeded: images.length, successPercent: 100 });
    expect(report.pulls).toHaveLength(3);
    const bridgePull = report.pulls.find((p) => p.repository === 'auren/biometric-bridge')!;
    expect(bridgePull).toMatchObject({ platform: 'linux/amd64', reference: '2.0.0' });
    expect(bridgePull.bytes).toBeGreaterThan(images[4].platforms[0].sizeBytes);
    expect(report.checks.filter((c) => c.metric === 'critical-vulnerabilities').map((c) => c.level)).toEqual(['ok', 'ok', 'ok']);
  });

  it('exits non-zero naming image-size when the newest image is above a (lowered) alert level', async () => {
    const { code, stderr } = await run(await workspace('big', { thresholds: { imageSizeTargetBytes: 5_000, imageSizeAlertBytes: 15_000 } }), ['--format', 'text']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/image-size crossed the alert level/);
    expect(stderr).toMatch(/auren\/biometric-bridge:2\.0\.0 \(linux\/amd64\)/);
    expect(stderr).toMatch(/auren\/auren-api:1\.2\.0 \(linux\/amd64\)/);
    expect(stderr).not.toMatch(/linux\/arm64|auren-nginx/); // 12 KB and 5 KB: below the alert level
  });

  it('exits non-zero naming critical-vulnerabilities when the newest scan report has a critical finding', async () => {
    const dir = await workspace('critical');
    const api = images[2];
    await mkdir(join(dir, 'dist/images/auren-api/scan'), { recursive: true });
    await writeFile(join(dir, 'dist/images/auren-api/scan/report.json'), scanReportJson('auren-api', api.digest, { CRITICAL: 1, HIGH: 2 }));
    const { code, stdout, stderr } = await run(dir, ['--format', 'markdown']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/critical-vulnerabilities crossed the alert level/);
    expect(stderr).toMatch(/auren\/auren-api:1\.2\.0 has 1 critical vulnerability \(from its scan-report/);
    expect(stdout).toMatch(/^## Registry health: 🚨 ALERT/);
  });

  it('exits non-zero naming push-success-rate when the history is below 95%', async () => {
    const history = historyRepository('flaky');
    const base = { project: 'auren-api', registry: registry.host, repository: 'flaky/auren-api', tags: [] };
    await Promise.all([
      ...Array.from({ length: 18 }, () => recordPushEvent(client, history, { ...base, outcome: 'success' })),
      ...Array.from({ length: 2 }, () => recordPushEvent(client, history, { ...base, outcome: 'failure', error: 'registry answered 503' })),
    ]);
    const { code, stdout, stderr } = await run(await workspace('flaky', {}, 'flaky'), ['--format', 'json']);
    const report = JSON.parse(stdout) as MonitorReport;
    expect(report.pushes).toMatchObject({ total: 20, succeeded: 18, failed: 2, successPercent: 90 });
    expect(code).toBe(3);
    expect(stderr).toMatch(/push-success-rate crossed the alert level/);
    expect(stderr).toMatch(/90% \(18\/20\)/);
  });

  it('writes Prometheus text format that a real parser reads, labels escaped', async () => {
    const dir = await workspace('prom');
    const { code, stderr } = await run(dir, ['--format', 'prometheus', '--output', 'out/auren.prom']);
    expect(code).toBe(0);
    expect(stderr).toMatch(/report written to/);
    const text = await readFile(join(dir, 'out/auren.prom'), 'utf8');
    const families = parsePrometheus(text);
    const family = (name: string) => families.find((f) => f.name === name)!;
    expect(family('auren_registry_up')).toMatchObject({ type: 'GAUGE', metrics: [{ value: '1' }] });
    const sizes = family('auren_registry_image_size_bytes').metrics;
    expect(sizes).toContainEqual({
      value: String(images[4].platforms[1].sizeBytes),
      labels: { registry: registry.host, repository: 'auren/biometric-bridge', version: '2.0.0', platform: 'linux/arm64' },
    });
    expect(family('auren_registry_push_success_ratio').metrics[0].value).toBe('1');
    expect(family('auren_registry_pull_seconds').metrics).toHaveLength(3);
    expect(family('auren_registry_storage_used_ratio').metrics[0].labels).toEqual({ registry: registry.host, basis: 'quota' });
    for (const f of families) expect(f.help).toBeTruthy();
  });

  it('renders an HTML report whose charts have data in headless Chromium', async () => {
    const dir = await workspace('html');
    const { code } = await run(dir, ['--format', 'html', '--output', 'report.html']);
    expect(code).toBe(0);
    const html = await readFile(join(dir, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/); // self-contained
    await mkdir(ARTIFACTS, { recursive: true });
    const flags = (profile: string) => ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`];
    const url = `file://${join(dir, 'report.html')}`;
    const { stdout: dom } = await promisify(execFile)('chromium', [...flags(join(temp, 'profile-dom')), '--dump-dom', url], { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 });
    // Set by the report's own script after it counted every chart's data marks.
    expect(Number(/data-charts-ready="(\d+)"/.exec(dom)?.[1])).toBeGreaterThan(0);
    const charts = [...dom.matchAll(/<svg data-chart="([^"]+)"(?: data-app="([^"]+)")?[^>]*data-points="(\d+)"/g)].map((m) => ({ chart: m[1], app: m[2], points: Number(m[3]) }));
    expect(charts.filter((c) => c.chart === 'size-history').map((c) => [c.app, c.points])).toEqual([
      ['auren-api', 3],
      ['auren-nginx', 2],
      ['biometric-bridge', 3], // 1.0.0 (one platform) + 2.0.0 (two)
    ]);
    expect(charts.find((c) => c.chart === 'vulnerabilities')?.points).toBeGreaterThan(0);
    expect(charts.find((c) => c.chart === 'storage')?.points).toBe(1);
    const screenshot = join(ARTIFACTS, 'monitor-report.png');
    await promisify(execFile)('chromium', [...flags(join(temp, 'profile-shot')), `--screenshot=${screenshot}`, '--window-size=1280,2200', '--hide-scrollbars', url], { timeout: 60_000 });
    expect((await readFile(screenshot)).subarray(1, 4).toString()).toBe('PNG');
  });
});
