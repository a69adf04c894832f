import type { ExecutorContext } from '@nx/devkit';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushTestImage } from '../../lib/monitor/fixtures.testing';
import type { MonitorReport } from '../../lib/monitor';
import { createRegistryClient } from '../../lib/registry/client';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import monitorExecutor from './executor';
import schema from './schema.json';

describe('monitor executor', () => {
  let registry: TestRegistry;
  let root: string;

  beforeAll(async () => {
    registry = await startTestRegistry();
    root = await mkdtemp(join(tmpdir(), 'auren-monitor-exec-'));
    await pushTestImage(createRegistryClient({ registry: registry.host }), 'auren/auren-api', ['1.0.0'], [4096], '2025-01-01T00:00:00Z');
  });
  afterAll(async () => {
    await registry?.stop();
    await rm(root, { recursive: true, force: true });
    process.exitCode = 0;
  });

  const context = (monitor: Record<string, unknown>): ExecutorContext =>
    ({
      root,
      cwd: root,
      isVerbose: false,
      projectName: 'registry',
      nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: { registry: registry.host, namespace: 'auren', monitor: { quotaBytes: 1e9, ...monitor } } }] },
      projectsConfigurations: { version: 2, projects: {} },
    }) as unknown as ExecutorContext;

  it('writes the chosen format to the output file and succeeds when nothing alerts', async () => {
    const result = await monitorExecutor({ format: 'json', output: 'dist/monitor/report.json', window: '24h', concurrency: 4 }, context({}));
    expect(result).toEqual({ success: true });
    const report = JSON.parse(await readFile(join(root, 'dist/monitor/report.json'), 'utf8')) as MonitorReport;
    expect(report.pushes.window).toBe('24h');
    expect(report.repositories[0].images[0].platforms[0].sizeBytes).toBeGreaterThan(4096);
  });

  it('fails when a metric crosses its alert level', async () => {
    const result = await monitorExecutor({ format: 'markdown', output: 'dist/monitor/summary.md' }, context({ thresholds: { imageSizeTargetBytes: 100, imageSizeAlertBytes: 1000 } }));
    expect(result).toEqual({ success: false });
    expect(await readFile(join(root, 'dist/monitor/summary.md'), 'utf8')).toMatch(/🚨 ALERT/);
  });

  it('rejects a bad window before contacting the registry', async () => {
    expect(await monitorExecutor({ window: 'soon' }, context({}))).toEqual({ success: false });
    expect(process.exitCode).toBe(2);
  });

  it('documents every option, camelCase, and allows no others', () => {
    expect(schema.additionalProperties).toBe(false);
    for (const [name, option] of Object.entries(schema.properties)) {
      expect(name).toMatch(/^[a-z][a-zA-Z]*$/);
      expect((option as { description?: string }).description).toBeTruthy();
    }
    expect(Object.keys(schema.properties).sort()).toEqual(['concurrency', 'format', 'output', 'window']);
  });
});
