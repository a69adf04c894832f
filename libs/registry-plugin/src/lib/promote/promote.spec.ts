import { rm } from 'node:fs/promises';
import { parsePromoteArgs } from '../../cli/commands/promote';
import { testPushRecord } from '../../testing/push-record.testing';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { normalizeOptions, type AurenConfig } from '../config/options';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import { executePush, planPush } from '../registry/push';
import { writeTestLayout, type TestLayout } from '../registry/layout.testing';
import type { PushRecord } from '../reports/records';
import { copyPlanJson } from './copy-plan';
import { parseRegistryTarget, resolvePromote, type ResolvePromoteInput } from './promote';
import { promoteImage } from './run';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const OTHER = `sha256:${'cd'.repeat(32)}`;
const config: AurenConfig = normalizeOptions({ registry: '127.0.0.1:5000', namespace: 'auren' }, {});

const record = (extra: Partial<PushRecord> = {}): PushRecord =>
  testPushRecord({ project: 'auren-api', digest: DIGEST, tags: ['v1.2.0', 'main-abc1234', 'latest'], ...extra });

const input = (extra: Partial<ResolvePromoteInput>): ResolvePromoteInput => ({
  project: 'auren-api',
  repository: 'auren-api',
  config,
  record: record(),
  from: undefined,
  to: [],
  toRegistry: undefined,
  ...extra,
});

describe('resolvePromote', () => {
  it.each<[string, Partial<ResolvePromoteInput>, unknown]>([
    [
      'default source is the pushed digest, same repository',
      { to: ['stable'] },
      { source: { registry: '127.0.0.1:5000', repository: 'auren/auren-api', reference: DIGEST }, target: { registry: '127.0.0.1:5000', repository: 'auren/auren-api', tags: ['stable'] } },
    ],
    [
      'from a tag',
      { from: 'main-abc1234', to: ['v1.3.0', 'latest'] },
      { source: { registry: '127.0.0.1:5000', repository: 'auren/auren-api', reference: 'main-abc1234' }, target: { registry: '127.0.0.1:5000', repository: 'auren/auren-api', tags: ['v1.3.0', 'latest'] } },
    ],
    [
      'to another registry keeps the name below its namespace',
      { toRegistry: 'registry.example.com/prod', to: ['v1.2.0'] },
      { source: { registry: '127.0.0.1:5000', repository: 'auren/auren-api', reference: DIGEST }, target: { registry: 'registry.example.com', repository: 'prod/auren-api', tags: ['v1.2.0'] } },
    ],
    [
      'to another registry without tags keeps the pushed tags',
      { toRegistry: '127.0.0.1:5001' },
      { source: { registry: '127.0.0.1:5000', repository: 'auren/auren-api', reference: DIGEST }, target: { registry: '127.0.0.1:5001', repository: 'auren/auren-api', tags: ['v1.2.0', 'main-abc1234', 'latest'] } },
    ],
    [
      'to another registry from a tag keeps that tag',
      { toRegistry: '127.0.0.1:5001', from: 'v1.2.0' },
      { source: { registry: '127.0.0.1:5000', repository: 'auren/auren-api', reference: 'v1.2.0' }, target: { registry: '127.0.0.1:5001', repository: 'auren/auren-api', tags: ['v1.2.0'] } },
    ],
    [
      'no push.json: the configured registry and the project repository',
      { record: undefined, from: 'dev', to: ['stable'] },
      { source: { registry: '127.0.0.1:5000', repository: 'auren/auren-api', reference: 'dev' }, target: { registry: '127.0.0.1:5000', repository: 'auren/auren-api', tags: ['stable'] } },
    ],
    [
      "no push.json: the repository docker-push's option names",
      { record: undefined, repository: 'api-server', from: 'dev', to: ['stable'] },
      { source: { registry: '127.0.0.1:5000', repository: 'auren/api-server', reference: 'dev' }, target: { registry: '127.0.0.1:5000', repository: 'auren/api-server', tags: ['stable'] } },
    ],
  ])('%s', (_name, extra, expected) => {
    expect(resolvePromote(input(extra))).toEqual(expected);
  });

  it.each<[string, Partial<ResolvePromoteInput>, RegExp]>([
    ['no tags', {}, /no tags to promote to/],
    ['no push.json and no from', { record: undefined, to: ['x'] }, /no push.json and no --from/],
    ['a dry-run push record', { record: record({ dryRun: true }), to: ['x'] }, /records a dry run/],
    ['a bad from', { from: 'not a tag', to: ['x'] }, /invalid --from/],
    ['a bad tag', { to: ['-bad'] }, /invalid image tag/],
    ['a digest to another registry without tags', { from: OTHER, toRegistry: 'r.example.com' }, /no tags to promote to/],
    ['a scheme in toRegistry', { toRegistry: 'https://r.example.com', to: ['x'] }, /no scheme allowed/],
  ])('refuses %s', (_name, extra, message) => {
    expect(() => resolvePromote(input(extra))).toThrow(message);
  });
});

describe('small parsers', () => {
  it.each([
    ['ghcr.io', { registry: 'ghcr.io', namespace: undefined }],
    ['127.0.0.1:5001/team/prod', { registry: '127.0.0.1:5001', namespace: 'team/prod' }],
    ['registry.digitalocean.com/auren/', { registry: 'registry.digitalocean.com', namespace: 'auren' }],
  ])('parseRegistryTarget(%p)', (value, expected) => {
    expect(parseRegistryTarget(value, 'toRegistry')).toEqual(expected);
  });

  it.each<[string[], unknown]>([
    [
      ['127.0.0.1:5000/auren/api:dev', 'stable', 'latest'],
      { source: { registry: '127.0.0.1:5000', repository: 'auren/api', reference: 'dev' }, target: { registry: '127.0.0.1:5000', repository: 'auren/api', tags: ['stable', 'latest'] } },
    ],
    [
      [`127.0.0.1:5000/auren/api@${DIGEST}`, 'r.example.com/auren/api:v1.0.0', '--dry-run'],
      { source: { registry: '127.0.0.1:5000', repository: 'auren/api', reference: DIGEST }, target: { registry: 'r.example.com', repository: 'auren/api', tags: ['v1.0.0'] } },
    ],
    [
      ['127.0.0.1:5000/auren/api:v1', '127.0.0.1:5000/auren/api-prod', 'v1', 'latest'],
      { source: { registry: '127.0.0.1:5000', repository: 'auren/api', reference: 'v1' }, target: { registry: '127.0.0.1:5000', repository: 'auren/api-prod', tags: ['v1', 'latest'] } },
    ],
  ])('auren-registry promote %p', (args, expected) => {
    expect(parsePromoteArgs(args)).toEqual(expected);
  });

  it.each<[string[], RegExp]>([
    [['127.0.0.1:5000/auren/api:dev'], /needs a source and a destination/],
    [['127.0.0.1:5000/auren/api', 'stable'], /neither a tag nor a digest/],
    [['127.0.0.1:5000/auren/api:dev', '127.0.0.1:5000/auren/x'], /names no tag/],
    [['127.0.0.1:5000/auren/api:dev', `127.0.0.1:5000/auren/x@${DIGEST}`], /has a digest/],
    [['127.0.0.1:5000/auren/api:dev', 'stable', '--force'], /unknown option --force/],
  ])('auren-registry promote %p is refused', (args, message) => {
    expect(() => parsePromoteArgs(args)).toThrow(message);
  });
});

describe('promoteImage against a real registry', () => {
  let registry: TestRegistry;
  let image: TestLayout;
  let requests: string[];
  let client: RegistryClient;

  beforeAll(async () => {
    registry = await startTestRegistry();
    image = await writeTestLayout({ platforms: ['linux/amd64', 'linux/arm64'] });
    client = createRegistryClient({
      registry: registry.host,
      onRequest: (method, url) => requests.push(`${method} ${new URL(url).pathname}`),
    });
    requests = [];
    await executePush(client, await planPush(client, image.layout, { repository: 'auren/api', tags: ['main-abc1234', 'v1.0.0'] }));
  });
  afterAll(async () => {
    await registry?.stop();
    if (image) await rm(image.dir, { recursive: true, force: true });
  });

  const run = (tags: string[], dryRun = false, from = 'main-abc1234') => {
    const lines: string[] = [];
    requests = [];
    const cfg = normalizeOptions({ registry: registry.host }, {});
    return promoteImage({
      request: { source: { registry: registry.host, repository: 'auren/api', reference: from }, target: { registry: registry.host, repository: 'auren/api', tags } },
      config: cfg,
      env: {},
      dryRun,
      log: (line) => lines.push(line),
      connect: async () => client,
    }).then((outcome) => ({ outcome, lines }));
  };

  it('prints the plan and changes nothing in a dry run', async () => {
    const { outcome, lines } = await run(['stable'], true);
    expect(outcome.status).toBe('dry-run');
    expect(lines[0]).toMatch(/^promote .*auren\/api:main-abc1234 \(linux\/amd64, linux\/arm64\)/);
    expect(lines.join('\n')).toMatch(/tag stable: create/);
    expect(requests.filter((r) => !r.startsWith('GET') && !r.startsWith('HEAD'))).toEqual([]);
    expect(await client.manifestHead('auren/api', 'stable')).toBe('not-found');
    expect(copyPlanJson(outcome.plan)).toMatchObject({ mode: 'retag', bytesToCopy: 0, tags: [{ tag: 'stable', action: 'create' }] });
  });

  it('retags within the repository with manifest PUTs only', async () => {
    const { outcome } = await run(['stable', 'latest']);
    expect(outcome.status).toBe('promoted');
    expect(requests.filter((r) => !r.startsWith('GET') && !r.startsWith('HEAD'))).toEqual([
      'PUT /v2/auren/api/manifests/stable',
      'PUT /v2/auren/api/manifests/latest',
    ]);
    expect((await client.manifestHead('auren/api', 'latest')) as { digest: string }).toMatchObject({ digest: image.digest });
    expect((await run(['stable'])).outcome.status).toBe('unchanged');
  });

  it('never moves a version tag onto another image', async () => {
    const other = await writeTestLayout({ platforms: ['linux/amd64'] });
    try {
      await executePush(client, await planPush(client, other.layout, { repository: 'auren/api', tags: ['main-def5678'] }));
      await expect(run(['v1.0.0', 'stable'], false, 'main-def5678')).rejects.toMatchObject({ kind: 'policy', message: expect.stringMatching(/v1\.0\.0 already names/) });
      // Nothing was written, not even the movable tag listed with it.
      expect((await client.manifestHead('auren/api', 'stable')) as { digest: string }).toMatchObject({ digest: image.digest });
      expect(requests.filter((r) => r.startsWith('PUT'))).toEqual([]);
    } finally {
      await rm(other.dir, { recursive: true, force: true });
    }
  });
});
