// @auren-test-tools registry (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { REGISTRY_FLAVORS, type TestRegistry, startTestRegistries } from '../../testing/registry-server.testing';
import { exec } from '../exec/exec';
import { createRegistryClient, type RegistryClient } from './client';
import { copyImage } from './copy';
import { executePush, layoutImageSource, planPush } from './push';
import { writeTestLayout, type TestLayout } from './layout.testing';

function client(registry: TestRegistry, log?: string[]): RegistryClient {
  return createRegistryClient({
    registry: registry.host,
    onRequest: (method, url) => log?.push(`${method} ${decodeURIComponent(new URL(url).pathname)}`),
  });
}

async function skopeoDigest(ref: string): Promise<string> {
  const raw = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  return `sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`;
}

// Copies between two registries of the same flavor: distribution 2.8, then distribution 3.
describe.each(REGISTRY_FLAVORS)('copyImage (%s)', (flavor) => {
  let a: TestRegistry;
  let b: TestRegistry;
  let image: TestLayout;

  beforeAll(async () => {
    [a, b] = await startTestRegistries({ flavor }, { flavor });
    image = await writeTestLayout({ platforms: ['linux/amd64', 'linux/arm64'] });
    const source = client(a);
    await executePush(source, await planPush(source, image.layout, { repository: 'auren/api', tags: ['1.0.0'] }));
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (image) await rm(image.dir, { recursive: true, force: true });
  });

  it('copies every platform to another registry, streaming only the blobs it lacks', async () => {
    const target = client(b);
    // The target already has one layer (e.g. a shared base).
    const known = layoutImageSource(image.layout).blobs[0];
    expect(await target.blobUpload('mirror/api', known)).toBe('uploaded');

    const result = await copyImage({
      from: { client: client(a), repository: 'auren/api', reference: '1.0.0' },
      to: { client: target, repository: 'mirror/api', tags: ['1.0.0', 'latest'] },
    });
    expect(result).toMatchObject({
      digest: image.digest,
      platforms: ['linux/amd64', 'linux/arm64'],
      uploaded: image.layout.blobs.length - 1,
      skipped: 1,
      mounted: 0,
      tags: [
        { tag: '1.0.0', status: 'created' },
        { tag: 'latest', status: 'created' },
      ],
    });
    expect(await skopeoDigest(`${b.host}/mirror/api:latest`)).toBe(image.digest);
    // skopeo can copy every platform out of the target: all blobs arrived intact.
    await exec('skopeo', ['copy', '--all', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${b.host}/mirror/api:1.0.0`, `docker://${a.host}/skopeo/check:1`]);
    expect(await skopeoDigest(`${a.host}/skopeo/check:1`)).toBe(image.digest);

    const again = await copyImage({
      from: { client: client(a), repository: 'auren/api', reference: image.digest },
      to: { client: target, repository: 'mirror/api', tags: ['1.0.0'] },
    });
    expect(again).toMatchObject({ uploaded: 0, tags: [{ tag: '1.0.0', status: 'unchanged' }] });
  });

  it('mounts across repositories of one registry and moves nothing within one repository', async () => {
    const log: string[] = [];
    const same = client(a, log);
    const promoted = await copyImage({
      from: { client: same, repository: 'auren/api', reference: '1.0.0' },
      to: { client: same, repository: 'auren/api-prod', tags: ['1.0.0'] },
    });
    expect(promoted).toMatchObject({ mounted: image.layout.blobs.length, uploaded: 0, bytesUploaded: 0 });
    expect(log.filter((r) => r.startsWith('PATCH') || (r.startsWith('PUT') && r.includes('/blobs/')))).toEqual([]);
    expect(await skopeoDigest(`${a.host}/auren/api-prod:1.0.0`)).toBe(image.digest);

    log.length = 0;
    const retagged = await copyImage({
      from: { client: same, repository: 'auren/api', reference: '1.0.0' },
      to: { client: same, repository: 'auren/api', tags: ['stable'] },
    });
    expect(retagged.tags).toEqual([{ tag: 'stable', status: 'created' }]);
    expect(log.filter((r) => !r.startsWith('GET /v2/auren/api/manifests/') && !r.startsWith('HEAD'))).toEqual(['PUT /v2/auren/api/manifests/stable']);
  });

  it('says clearly when the source does not exist', async () => {
    await expect(
      copyImage({ from: { client: client(a), repository: 'auren/nope', reference: '1' }, to: { client: client(b), repository: 'x/y', tags: ['1'] } }),
    ).rejects.toMatchObject({ kind: 'registry', message: expect.stringMatching(/auren\/nope:1 does not exist/) });
  });
});
