import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { createRegistryClient } from '../../lib/registry/client';
import { executePush, planPush } from '../../lib/registry/push';
import { writeTestLayout, type TestLayout } from '../../lib/registry/layout.testing';
import { type TestRegistry, startTestRegistries } from '../../testing/registry-server.testing';
import executor, { normalizeOptions } from './executor';

describe('promote executor', () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let image: TestLayout;
  let root: string;
  let output: string[];

  const context = (): ExecutorContext =>
    ({
      root,
      cwd: root,
      isVerbose: false,
      projectName: 'auren-api',
      projectsConfigurations: { version: 2, projects: { 'auren-api': { root: 'apps/auren-api' } } },
      nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: { registry: a.host, namespace: 'auren' } }] },
    }) as unknown as ExecutorContext;

  beforeAll(async () => {
    [a, b] = await startTestRegistries({}, {});
    image = await writeTestLayout({ platforms: ['linux/amd64', 'linux/arm64'] });
    const client = createRegistryClient({ registry: a.host });
    await executePush(client, await planPush(client, image.layout, { repository: 'auren/auren-api', tags: ['v1.0.0', 'main-abc1234'] }));
    root = mkdtempSync(join(tmpdir(), 'promote-executor-'));
    mkdirSync(join(root, 'dist/images/auren-api'), { recursive: true });
    writeFileSync(
      join(root, 'dist/images/auren-api/push.json'),
      JSON.stringify({ schemaVersion: 1, project: 'auren-api', registry: a.host, repository: 'auren/auren-api', digest: image.digest, tags: ['v1.0.0', 'main-abc1234'], dryRun: false }),
    );
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (image) rmSync(image.dir, { recursive: true, force: true });
    if (root) rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    output = [];
    process.exitCode = 0;
    for (const method of ['info', 'log', 'warn', 'error'] as const) {
      jest.spyOn(console, method).mockImplementation((...args: unknown[]) => void output.push(args.join(' ')));
    }
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = 0;
  });

  it('normalises: default source is the digest in push.json; comma lists; NX_DRY_RUN', async () => {
    const normalized = await normalizeOptions({ to: 'stable, latest' }, context(), { NX_DRY_RUN: 'true' });
    expect(normalized.request).toEqual({
      source: { registry: a.host, repository: 'auren/auren-api', reference: image.digest },
      target: { registry: a.host, repository: 'auren/auren-api', tags: ['stable', 'latest'] },
    });
    expect(normalized.dryRun).toBe(true);
  });

  it('prints the plan, then adds tags by digest', async () => {
    expect(await executor({ to: ['stable'] }, context())).toEqual({ success: true });
    const text = output.join('\n');
    expect(text.indexOf('tag stable: create')).toBeLessThan(text.indexOf('promoted '));
    expect(text).toMatch(/same repository: manifest PUTs only/);
    const head = await createRegistryClient({ registry: a.host }).manifestHead('auren/auren-api', 'stable');
    expect(head).toMatchObject({ digest: image.digest });
  });

  it('copies to another registry with every platform, or plans only with dryRun', async () => {
    expect(await executor({ toRegistry: `${b.host}/prod`, dryRun: true }, context())).toEqual({ success: true });
    const target = createRegistryClient({ registry: b.host });
    expect(await target.tagList('prod/auren-api')).toEqual([]);
    expect(output.join('\n')).toMatch(/blobs: \d+ to copy/);

    expect(await executor({ toRegistry: `${b.host}/prod` }, context())).toEqual({ success: true });
    expect((await target.tagList('prod/auren-api')).sort()).toEqual(['main-abc1234', 'v1.0.0']);
    expect(await target.manifestHead('prod/auren-api', 'v1.0.0')).toMatchObject({ digest: image.digest });
  });

  it('fails with a clear message instead of moving a version tag', async () => {
    const other = await writeTestLayout({ platforms: ['linux/amd64'] });
    try {
      const client = createRegistryClient({ registry: a.host });
      await executePush(client, await planPush(client, other.layout, { repository: 'auren/auren-api', tags: ['dev'] }));
      expect(await executor({ from: 'dev', to: 'v1.0.0' }, context())).toEqual({ success: false });
      expect(output.join('\n')).toMatch(/v1\.0\.0 already names .*\n.*Version tags are immutable; nothing was copied/);
      expect(process.exitCode).toBe(3);
      expect(await client.manifestHead('auren/auren-api', 'v1.0.0')).toMatchObject({ digest: image.digest });
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
  });
});
