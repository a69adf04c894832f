// @auren-test-tools registry (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REGISTRY_FLAVORS, startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { exec } from '../exec/exec';
import { createRegistryClient, type RegistryClient } from './client';
import { executePush, planPush } from './push';
import { writeTestLayout, type TestLayout } from './layout.testing';

interface Logged {
  method: string;
  path: string;
  status: number;
}

function loggedClient(registry: TestRegistry): { client: RegistryClient; log: Logged[] } {
  const log: Logged[] = [];
  const client = createRegistryClient({
    registry: registry.host,
    onRequest: (method, url, status) => log.push({ method, path: decodeURIComponent(new URL(url).pathname), status }),
  });
  return { client, log };
}

async function skopeoDigest(ref: string): Promise<string> {
  const raw = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  return `sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`;
}

describe.each(REGISTRY_FLAVORS)('push (%s)', (flavor) => {
  let registry: TestRegistry;
  const layouts: TestLayout[] = [];
  const layout = async (options?: Parameters<typeof writeTestLayout>[0]) => {
    const made = await writeTestLayout(options);
    layouts.push(made);
    return made;
  };

  beforeAll(async () => {
    registry = await startTestRegistry({ flavor });
  });
  afterAll(async () => {
    await registry?.stop();
    await Promise.all(layouts.map((l) => rm(l.dir, { recursive: true, force: true })));
  });

  it('pushes a multi-platform image to an empty repository: blobs, then children, then the index by tag', async () => {
    const image = await layout();
    const { client, log } = loggedClient(registry);
    const plan = await planPush(client, image.layout, { repository: 'auren/multi', tags: ['latest', '1.0.0'] });
    expect(plan.conflicts).toEqual([]);
    expect(plan.blobs.every((b) => b.action === 'upload')).toBe(true);
    expect(plan.manifests.map((m) => m.action)).toEqual(['put', 'put', 'put']);
    expect(plan.manifests.at(-1)!.digest).toBe(image.digest);
    expect(plan.tags).toEqual([
      { tag: '1.0.0', action: 'create' },
      { tag: 'latest', action: 'create' },
    ]);
    expect(log.every((r) => r.method === 'HEAD')).toBe(true);

    log.length = 0;
    const result = await executePush(client, plan);
    expect(result).toMatchObject({
      digest: image.digest,
      uploaded: image.layout.blobs.length,
      skipped: 0,
      mounted: 0,
      bytesUploaded: image.layout.blobs.reduce((s, b) => s + b.size, 0),
      tags: [
        { tag: '1.0.0', status: 'created' },
        { tag: 'latest', status: 'created' },
      ],
    });
    const manifestPuts = log.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'));
    const lastBlob = log.map((r) => r.path.includes('/blobs/')).lastIndexOf(true);
    const firstManifest = log.findIndex((r) => r.path.includes('/manifests/'));
    expect(lastBlob).toBeLessThan(firstManifest);
    const children = image.layout.manifests.slice(0, -1).map((m) => m.digest);
    expect(manifestPuts.map((r) => r.path.split('/manifests/')[1])).toEqual([...children, '1.0.0', 'latest']);

    expect(await skopeoDigest(`${registry.host}/auren/multi:1.0.0`)).toBe(image.digest);
    expect(await skopeoDigest(`${registry.host}/auren/multi:latest`)).toBe(image.digest);
    // A standard client can pull every platform back, byte for byte.
    const out = await mkdtemp(join(tmpdir(), 'auren-skopeo-'));
    try {
      await exec('skopeo', ['copy', '--all', '--src-tls-verify=false', `docker://${registry.host}/auren/multi:latest`, `oci:${out}:x`]);
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
      expect(index.manifests[0].digest).toBe(image.digest);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('re-pushing an image the registry has sends only HEAD requests', async () => {
    const image = await layout();
    const first = loggedClient(registry);
    await executePush(first.client, await planPush(first.client, image.layout, { repository: 'auren/again', tags: ['2.0.0', 'latest'] }));

    const { client, log } = loggedClient(registry);
    const plan = await planPush(client, image.layout, { repository: 'auren/again', tags: ['2.0.0', 'latest'] });
    const result = await executePush(client, plan);
    expect(log.map((r) => r.method)).toEqual(log.map(() => 'HEAD'));
    // one HEAD per tag; the image is there, so nothing under it needs asking about
    expect(log.length).toBeLessThanOrEqual(3);
    expect(result).toMatchObject({ uploaded: 0, skipped: image.layout.blobs.length, bytesUploaded: 0 });
    expect(result.tags).toEqual([
      { tag: '2.0.0', status: 'unchanged' },
      { tag: 'latest', status: 'unchanged' },
    ]);
  });

  it('adds extra tags with one manifest PUT each, latest last, and no blob traffic', async () => {
    const image = await layout({ platforms: ['linux/amd64'] });
    const first = loggedClient(registry);
    await executePush(first.client, await planPush(first.client, image.layout, { repository: 'auren/tags', tags: ['1.2.3'] }));

    const { client, log } = loggedClient(registry);
    const plan = await planPush(client, image.layout, { repository: 'auren/tags', tags: ['latest', '1.2.3', '1.2', '1', 'main-abc1234'] });
    log.length = 0;
    const result = await executePush(client, plan);
    expect(log.map((r) => `${r.method} ${r.path.split('/').at(-1)}`)).toEqual(['PUT 1.2', 'PUT 1', 'PUT main-abc1234', 'PUT latest']);
    expect(result.tags.map((t) => `${t.tag}:${t.status}`)).toEqual(['1.2.3:unchanged', '1.2:created', '1:created', 'main-abc1234:created', 'latest:created']);
    expect((await client.tagList('auren/tags')).sort()).toEqual(['1', '1.2', '1.2.3', 'latest', 'main-abc1234']);
  });

  it('moves a mutable tag and refuses to move an immutable one, leaving the registry unchanged', async () => {
    const a = await layout({ platforms: ['linux/amd64'] });
    const b = await layout({ platforms: ['linux/amd64'] });
    const { client, log } = loggedClient(registry);
    await executePush(client, await planPush(client, a.layout, { repository: 'auren/immutable', tags: ['1.0.0', 'latest'] }));
    const immutableTags = (tag: string) => /^\d+\.\d+\.\d+$/.test(tag);

    const conflicting = await planPush(client, b.layout, { repository: 'auren/immutable', tags: ['1.0.0', 'latest'], immutableTags });
    expect(conflicting.conflicts).toEqual([expect.objectContaining({ tag: '1.0.0', existingDigest: a.digest })]);
    log.length = 0;
    await expect(executePush(client, conflicting)).rejects.toMatchObject({ kind: 'policy', message: expect.stringMatching(/1\.0\.0 is immutable/) });
    expect(log).toEqual([]);
    expect(await skopeoDigest(`${registry.host}/auren/immutable:1.0.0`)).toBe(a.digest);
    expect(await skopeoDigest(`${registry.host}/auren/immutable:latest`)).toBe(a.digest);
    expect(await client.blobHead('auren/immutable', b.layout.blobs[1].digest)).toBe('not-found');

    const moving = await planPush(client, b.layout, { repository: 'auren/immutable', tags: ['1.0.1', 'latest'], immutableTags });
    const result = await executePush(client, moving);
    expect(result.tags).toEqual([
      { tag: '1.0.1', status: 'created' },
      { tag: 'latest', status: 'moved' },
    ]);
    expect(moving.tags[1].previousDigest).toBe(a.digest);
    expect(await skopeoDigest(`${registry.host}/auren/immutable:latest`)).toBe(b.digest);
  });

  it('dry run plans and reports but sends nothing', async () => {
    const image = await layout();
    const { client, log } = loggedClient(registry);
    const plan = await planPush(client, image.layout, { repository: 'auren/dry', tags: ['1.0.0'] });
    log.length = 0;
    const result = await executePush(client, plan, { dryRun: true });
    expect(log).toEqual([]);
    expect(result).toMatchObject({ dryRun: true, uploaded: image.layout.blobs.length, tags: [{ tag: '1.0.0', status: 'created' }] });
    expect(await client.tagList('auren/dry')).toEqual([]);
  });

  it('validates every tag before sending anything', async () => {
    const image = await layout({ platforms: ['linux/amd64'] });
    const { client, log } = loggedClient(registry);
    await expect(planPush(client, image.layout, { repository: 'auren/bad', tags: ['ok', 'not ok'] })).rejects.toMatchObject({
      kind: 'input',
      message: 'invalid image tag "not ok"',
    });
    await expect(planPush(client, image.layout, { repository: 'Auren/Bad', tags: ['ok'] })).rejects.toMatchObject({ kind: 'input' });
    expect(log).toEqual([]);
  });

  it('mounts blobs from a sibling repository instead of uploading them', async () => {
    const image = await layout({ platforms: ['linux/amd64'] });
    const { client } = loggedClient(registry);
    await executePush(client, await planPush(client, image.layout, { repository: 'auren/base', tags: ['1'] }));
    const plan = await planPush(client, image.layout, { repository: 'auren/derived', tags: ['1'], mountFrom: ['auren/base'] });
    const result = await executePush(client, plan);
    expect(result).toMatchObject({ mounted: image.layout.blobs.length, uploaded: 0, bytesUploaded: 0 });
    expect(await skopeoDigest(`${registry.host}/auren/derived:1`)).toBe(image.digest);
  });
});
