// @auren-test-tools oras (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { rm } from 'node:fs/promises';
import { useTestRegistry } from '../../testing/registry-server.testing';
import { exec, which } from '../exec/exec';
import type { RegistryClient } from '../registry/client';
import { OCI_MANIFEST, type Descriptor } from '../registry/media-types';
import { executePush, planPush } from '../registry/push';
import { writeTestLayout, type TestLayout } from '../registry/layout.testing';
import { fallbackTag, subjectOfFallbackTag } from '../registry/digest';
import { attachArtifact, listReferrers, settlePause, updateFallbackIndex } from './referrers';
import { CYCLONEDX_MEDIA_TYPE } from './sbom';

/** oras v1.3 `discover --format json`: `{ referrers: [{ digest, artifactType, ... }] }` (older: `manifests`). */
async function orasDiscover(ref: string): Promise<Array<{ digest: string; artifactType: string }>> {
  const result = await exec('oras', ['discover', '--plain-http', '--format', 'json', ref]);
  const doc = JSON.parse(result.stdout) as { referrers?: Array<{ digest: string; artifactType: string }>; manifests?: Array<{ digest: string; artifactType: string }> };
  return doc.referrers ?? doc.manifests ?? [];
}

/** The real client; its reads and writes of `tag` wait for the script (the n-th read is `n`). */
function scripted(
  client: RegistryClient,
  tag: string,
  hooks: { afterGet?: (n: number) => Promise<void>; beforePut?: () => Promise<void>; afterPut?: () => void },
): RegistryClient {
  let gets = 0;
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'manifestGet') {
        return async (repo: string, ref: string) => {
          const result = await target.manifestGet(repo, ref);
          if (ref === tag) await hooks.afterGet?.(++gets);
          return result;
        };
      }
      if (prop === 'manifestPut') {
        return async (repo: string, ref: string, body: Buffer, mediaType: string) => {
          if (ref !== tag) return target.manifestPut(repo, ref, body, mediaType);
          await hooks.beforePut?.();
          const result = await target.manifestPut(repo, ref, body, mediaType);
          hooks.afterPut?.();
          return result;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

describe('referrers: artifacts attached by subject, with the OCI 1.1 fallback tag', () => {
  const { registry, client } = useTestRegistry();
  const layouts: TestLayout[] = [];

  async function pushImage(repository: string, platforms = ['linux/amd64']): Promise<Descriptor> {
    const image = await writeTestLayout({ platforms });
    layouts.push(image);
    await executePush(client, await planPush(client, image.layout, { repository, tags: ['1.0.0'] }));
    const head = await client.manifestHead(repository, image.digest);
    if (head === 'not-found') throw new Error('pushed image not found');
    return { mediaType: head.mediaType, digest: head.digest, size: head.size };
  }

  afterAll(async () => {
    await Promise.all(layouts.map((l) => rm(l.dir, { recursive: true, force: true })));
  });

  it('names fallback tags after the subject digest, and reads them back', () => {
    const digest = `sha256:${'a1'.repeat(32)}`;
    expect(fallbackTag(digest)).toBe(`sha256-${'a1'.repeat(32)}`);
    expect(subjectOfFallbackTag(fallbackTag(digest))).toBe(digest);
    expect(subjectOfFallbackTag('sha256-abc')).toBeUndefined();
    expect(subjectOfFallbackTag(`${fallbackTag(digest)}.sig`)).toBeUndefined();
    expect(() => fallbackTag('latest')).toThrow(/not a digest/);
  });

  it('the registry has no referrers API, and `oras discover` lists an attached SBOM through the fallback index', async () => {
    const subject = await pushImage('auren/attach');
    const missing = await fetch(`${registry.url}/v2/auren/attach/referrers/${subject.digest}`);
    expect(missing.status).toBe(404);

    const sbom = Buffer.from(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [] }));
    const attached = await attachArtifact(client, {
      repository: 'auren/attach',
      subject,
      artifactType: CYCLONEDX_MEDIA_TYPE,
      files: [{ mediaType: CYCLONEDX_MEDIA_TYPE, data: sbom, annotations: { 'org.opencontainers.image.title': 'sbom.cdx.json' } }],
    });
    expect(attached.index).toBe('created');
    const manifest = await client.manifestGet('auren/attach', attached.digest);
    if (manifest === 'not-found') throw new Error('artifact manifest missing');
    const body = JSON.parse(manifest.body.toString());
    expect(body).toMatchObject({ mediaType: OCI_MANIFEST, artifactType: CYCLONEDX_MEDIA_TYPE, subject: { digest: subject.digest } });

    if (!(await which('oras'))) throw new Error('oras is not on PATH (tools/.bin or /tmp/gobin): this test needs the real client');
    const seen = await orasDiscover(`${registry.host}/auren/attach@${subject.digest}`);
    expect(seen).toEqual([expect.objectContaining({ digest: attached.digest, artifactType: CYCLONEDX_MEDIA_TYPE })]);

    // Attaching the same SBOM again is a no-op: same manifest digest, index unchanged.
    const again = await attachArtifact(client, {
      repository: 'auren/attach',
      subject,
      artifactType: CYCLONEDX_MEDIA_TYPE,
      files: [{ mediaType: CYCLONEDX_MEDIA_TYPE, data: sbom, annotations: { 'org.opencontainers.image.title': 'sbom.cdx.json' } }],
    });
    expect(again).toMatchObject({ digest: attached.digest, index: 'unchanged' });
    expect(await listReferrers(client, 'auren/attach', subject.digest)).toHaveLength(1);
  });

  it('attaches to a multi-platform index as the subject', async () => {
    const subject = await pushImage('auren/multi', ['linux/amd64', 'linux/arm64']);
    const attached = await attachArtifact(client, {
      repository: 'auren/multi',
      subject,
      artifactType: CYCLONEDX_MEDIA_TYPE,
      files: [{ mediaType: CYCLONEDX_MEDIA_TYPE, data: Buffer.from('{"bomFormat":"CycloneDX"}') }],
    });
    const seen = await orasDiscover(`${registry.host}/auren/multi@${subject.digest}`);
    expect(seen.map((r) => r.digest)).toEqual([attached.digest]);
  });

  it('concurrent writers to one subject do not drop each other\'s entries (re-read guard)', async () => {
    const subject = await pushImage('auren/race');
    const writers = Array.from({ length: 8 }, (_, i) =>
      attachArtifact(
        client,
        { repository: 'auren/race', subject, artifactType: `application/vnd.auren.test.${i}+json`, files: [{ mediaType: 'application/json', data: Buffer.from(`{"n":${i}}`) }] },
        { attempts: 20, settleMs: 100 },
      ),
    );
    const results = await Promise.all(writers);
    const listed = (await listReferrers(client, 'auren/race', subject.digest)).map((d) => d.digest).sort();
    expect(listed).toEqual(results.map((r) => r.digest).sort());
    const viaOras = await orasDiscover(`${registry.host}/auren/race@${subject.digest}`);
    expect(viaOras).toHaveLength(8);
  });

  it('a writer that read before ours and writes after our index looked settled once, while a third writer was still at work, does not drop our entry', async () => {
    const subject = await pushImage('auren/stale');
    const tag = fallbackTag(subject.digest);
    const file = (n: string) => [{ mediaType: 'application/json', data: Buffer.from(`{"w":"${n}"}`) }];
    const attach = (c: RegistryClient, n: string) => attachArtifact(c, { repository: 'auren/stale', subject, artifactType: `application/vnd.auren.${n}+json`, files: file(n) }, { settleMs: 20 });

    // The stale writer reads the empty index, then holds its write until released.
    const staleRead = gate();
    const staleWrite = gate();
    const staleLanded = gate();
    const stale = attach(
      scripted(client, tag, {
        afterGet: async (n) => void (n === 1 && staleRead.open()),
        beforePut: async () => staleWrite.opened,
        afterPut: () => staleLanded.open(),
      }),
      'stale',
    );
    await staleRead.opened;

    // Ours writes; right after its read-back a third writer adds its entry (the index changes
    // during our pause), and right after the read that sees that change the stale write lands.
    let third: string | undefined;
    const ours = await attach(
      scripted(client, tag, {
        afterGet: async (n) => {
          if (n === 2) third = (await attach(client, 'third')).digest;
          if (n === 3) {
            staleWrite.open();
            await staleLanded.opened;
          }
        },
      }),
      'ours',
    );
    const staleResult = await stale;
    const listed = (await listReferrers(client, 'auren/stale', subject.digest)).map((d) => d.digest);
    expect(third).toBeDefined();
    // Ours saw the index change during its pause, so it paused again and found its entry gone.
    // The third writer had finished before the stale write landed: no re-read can see that one
    // (SECURITY.md, "What is not promised").
    expect(listed).toEqual(expect.arrayContaining([ours.digest, staleResult.digest]));
    expect(ours.index).toBe('updated');
  });

  it('the default pause (paced by the registry\'s own round trips) also keeps every concurrent writer\'s entry', async () => {
    const subject = await pushImage('auren/race-paced');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        attachArtifact(
          client,
          { repository: 'auren/race-paced', subject, artifactType: `application/vnd.auren.test.${i}+json`, files: [{ mediaType: 'application/json', data: Buffer.from(`{"p":${i}}`) }] },
          { attempts: 20 },
        ),
      ),
    );
    const listed = (await listReferrers(client, 'auren/race-paced', subject.digest)).map((d) => d.digest).sort();
    expect(listed).toEqual(results.map((r) => r.digest).sort());
  });

  it('the pause follows the registry\'s pace, never below 150 ms for a registry writers may reach from afar', () => {
    expect([settlePause('127.0.0.1:5000', 4), settlePause('localhost:5000', 40), settlePause('127.0.0.1:5000', 5_000)]).toEqual([50, 120, 2_000]);
    expect([settlePause('registry.digitalocean.com', 4), settlePause('ghcr.io', 100), settlePause('ghcr.io', 5_000)]).toEqual([150, 300, 2_000]);
  });

  it('removes entries by digest and keeps the others', async () => {
    const subject = await pushImage('auren/remove');
    const a = await attachArtifact(client, { repository: 'auren/remove', subject, artifactType: 'application/vnd.a', files: [{ mediaType: 'application/json', data: Buffer.from('{"a":1}') }] });
    const b = await attachArtifact(client, { repository: 'auren/remove', subject, artifactType: 'application/vnd.b', files: [{ mediaType: 'application/json', data: Buffer.from('{"b":1}') }] });
    expect(await updateFallbackIndex(client, 'auren/remove', subject.digest, { remove: [a.digest] })).toBe('updated');
    expect((await listReferrers(client, 'auren/remove', subject.digest)).map((d) => d.digest)).toEqual([b.digest]);
    expect(await listReferrers(client, 'auren/remove', subject.digest, 'application/vnd.a')).toEqual([]);
  });
});
