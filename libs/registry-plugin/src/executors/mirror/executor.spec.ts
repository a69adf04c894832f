import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { createRegistryClient } from '../../lib/registry/client';
import { executePush, planPush } from '../../lib/registry/push';
import { writeTestLayout, type TestLayout } from '../../lib/registry/layout.testing';
import { type TestRegistry, startTestRegistries } from '../../testing/registry-server.testing';
import executor, { normalizeOptions } from './executor';

const COMPOSE = `
services:
  api:
    build: { context: apps/api }
    image: auren/api:dev
  db:
    image: timescale/timescaledb:\${PG_TAG:-latest-pg16}
  cache:
    image: redis:7-alpine
  worker:
    build: .
`;

describe('mirror executor', () => {
  let upstream: TestRegistry;
  let ours: TestRegistry;
  let image: TestLayout;
  let root: string;
  let output: string[];

  const context = (registry = 'registry.example.com'): ExecutorContext =>
    ({
      root,
      cwd: root,
      isVerbose: false,
      projectName: 'registry',
      projectsConfigurations: { version: 2, projects: { registry: { root: 'tools/registry' } } },
      nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: { registry, namespace: 'auren' } }] },
    }) as unknown as ExecutorContext;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'mirror-executor-'));
    writeFileSync(join(root, 'docker-compose.yml'), COMPOSE);
    [upstream, ours] = await startTestRegistries({}, {});
    image = await writeTestLayout({ platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'] });
    const client = createRegistryClient({ registry: upstream.host });
    await executePush(client, await planPush(client, image.layout, { repository: 'library/redis', tags: ['7-alpine'] }));
  });
  afterAll(async () => {
    await Promise.all([upstream?.stop(), ours?.stop()]);
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

  it.each([
    ['the compose services without build:', {}, {}, ['timescale/timescaledb:latest-pg16', 'redis:7-alpine']],
    ['compose variables', {}, { PG_TAG: '2.14.2-pg16' }, ['timescale/timescaledb:2.14.2-pg16', 'redis:7-alpine']],
    ['the images option', { images: 'redis:7-alpine, nginx:1.27' }, {}, ['redis:7-alpine', 'nginx:1.27']],
  ])('normalises images from %s', (_name, options, env, images) => {
    expect(normalizeOptions(options, context(), env).images).toEqual(images);
  });

  it('refuses a malformed sourceRegistry', () => {
    expect(() => normalizeOptions({ images: 'redis:7', sourceRegistry: 'http://x' }, context(), {})).toThrow(/invalid registry address "http:\/\/x" \(from sourceRegistry\)/);
  });

  it('copies every platform by digest, records the pins, and reports images it could not copy', async () => {
    const result = await executor({ images: ['redis:7-alpine', 'nosuch/image:1'], sourceRegistry: upstream.host }, context(ours.host));
    expect(result).toEqual({ success: false });
    const text = output.join('\n');
    expect(text).toMatch(/mirror redis:7-alpine: .*\(linux\/amd64, linux\/arm64, linux\/arm\/v7\)/);
    expect(text).toMatch(/1 of 2 images not mirrored:\n\s+nosuch\/image:1: .*nosuch\/image:1 does not exist/);

    const target = createRegistryClient({ registry: ours.host });
    expect(await target.manifestHead('auren/mirror/redis', '7-alpine')).toMatchObject({ digest: image.digest });
    for (const child of image.layout.manifests) {
      expect(await target.manifestHead('auren/mirror/redis', child.digest)).toMatchObject({ digest: child.digest });
    }
    const record = JSON.parse(readFileSync(join(root, 'dist/mirror/mirror.json'), 'utf8'));
    expect(record).toMatchObject({
      registry: ours.host,
      images: [
        {
          image: 'redis:7-alpine',
          source: 'docker.io/library/redis:7-alpine',
          digest: image.digest,
          platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
          target: `${ours.host}/auren/mirror/redis:7-alpine`,
          pinned: `${ours.host}/auren/mirror/redis@${image.digest}`,
        },
      ],
    });

    output.length = 0;
    expect(await executor({ images: 'redis:7-alpine', sourceRegistry: upstream.host }, context(ours.host))).toEqual({ success: true });
    expect(output.join('\n')).toMatch(/blobs: 0 to copy .*\n.*manifests: 0 to put[^]*\(unchanged\)/);
  });
});
