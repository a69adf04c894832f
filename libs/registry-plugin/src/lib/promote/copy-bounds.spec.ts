import { createHash } from 'node:crypto';
import { OCI_MANIFEST_TYPE, serveImage, hostileRegistryPerTest, tinyImage, type HostileRegistry } from '../../testing/hostile-registry.testing';
import { createRegistryClient } from '../registry/client';
import { MAX_ATTACHED_ARTIFACTS } from './attached';
import { executeCopy, planCopy } from './copy-plan';
import { mirrorEntries, runMirror } from './mirror';

/** Mirror and promote read a source registry: a source that lies about a layer stops the copy. */
const hostile = hostileRegistryPerTest();

const client = (registry: HostileRegistry) =>
  createRegistryClient({ registry: registry.host, insecure: true, retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10, deadlineMs: 5_000 }, bodyIdleTimeoutMs: 300, lowSpeedLimit: { bytesPerSecond: 1_000, windowMs: 300 } });

const manifestPuts = (registry: HostileRegistry) => registry.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'));

async function lyingSource(repository: string, tag: string): Promise<HostileRegistry> {
  const source = await hostile();
  const image = tinyImage({ layers: [Buffer.from('small layer')] });
  serveImage(source, repository, tag, image);
  source.misbehave(({ path }) =>
    path.endsWith(image.layers[0].digest) ? { kind: 'respond', status: 200, body: Buffer.concat([image.layers[0].body, Buffer.alloc(1 << 20)]) } : undefined,
  );
  return source;
}

it('mirror reports a source that lies about a layer, and tags nothing in the target', async () => {
  const source = await lyingSource('library/redis', '7');
  const target = await hostile();
  const outcomes = await runMirror({
    entries: mirrorEntries([`${source.host}/library/redis:7`], { namespace: 'auren' }),
    registry: target.host,
    target: client(target),
    sourceClient: async () => client(source),
    dryRun: false,
    log: () => undefined,
  });
  expect(outcomes.map((o) => o.status)).toEqual(['failed']);
  expect(outcomes[0].error).toMatch(/more than the 11 bytes/);
  expect(manifestPuts(target)).toEqual([]);
});

it('promote (plan, then copy) stops at the same lie', async () => {
  const source = await lyingSource('auren/api', 'v1');
  const target = await hostile();
  const plan = await planCopy({ from: { client: client(source), repository: 'auren/api', reference: 'v1' }, to: { client: client(target), repository: 'auren/api', tags: ['v1'] } });
  await expect(executeCopy(client(target), plan)).rejects.toThrow(/more than the 11 bytes/);
  expect(manifestPuts(target)).toEqual([]);
});

describe('what is attached to the image is read as warily as the image', () => {
  const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
  const fallback = (digest: string) => digest.replace(':', '-');
  const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

  /** An SBOM artifact attached to `image`, served by `registry` and listed in its fallback index. */
  function serveAttached(registry: HostileRegistry, repository: string, image: ReturnType<typeof tinyImage>, sbom: Buffer): string {
    const empty = Buffer.from('{}');
    registry.putBlob(empty);
    registry.putBlob(sbom);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST_TYPE,
        artifactType: 'application/vnd.cyclonedx+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
        layers: [{ mediaType: 'application/vnd.cyclonedx+json', digest: sha256(sbom), size: sbom.length }],
        subject: { mediaType: OCI_MANIFEST_TYPE, digest: image.manifest.digest, size: image.manifest.body.length },
      }),
    );
    const digest = registry.putManifest(repository, sha256(manifest), manifest, OCI_MANIFEST_TYPE);
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST_TYPE, digest, size: manifest.length, artifactType: 'application/vnd.cyclonedx+json' }] }));
    registry.putManifest(repository, fallback(image.manifest.digest), index, OCI_INDEX);
    return digest;
  }

  it('an SBOM larger than its descriptor stops the copy before any tag is written', async () => {
    const source = await hostile();
    const image = tinyImage({ layers: [Buffer.from('a layer')] });
    serveImage(source, 'auren/api', 'v1', image);
    const sbom = Buffer.from('{"bomFormat":"CycloneDX","specVersion":"1.6"}');
    serveAttached(source, 'auren/api', image, sbom);
    source.misbehave(({ path }) => (path.endsWith(`/blobs/${sha256(sbom)}`) ? { kind: 'respond', status: 200, body: Buffer.concat([sbom, Buffer.alloc(1 << 20)]) } : undefined));
    const target = await hostile();
    const plan = await planCopy({ from: { client: client(source), repository: 'auren/api', reference: 'v1' }, to: { client: client(target), repository: 'auren/api', tags: ['v1'] } });
    expect(plan.attached.artifacts).toHaveLength(1);
    await expect(executeCopy(client(target), plan)).rejects.toThrow(new RegExp(`more than the ${sbom.length} bytes`));
    // Content by digest may be there; no tag names an image whose SBOM did not arrive.
    expect(manifestPuts(target).filter((r) => /\/manifests\/(v1|sha256-)/.test(r.path))).toEqual([]);
  });

  it('a referrers index listing more artifacts than any image has is refused before anything is written', async () => {
    const source = await hostile();
    const image = tinyImage();
    serveImage(source, 'auren/api', 'v1', image);
    const made = Array.from({ length: MAX_ATTACHED_ARTIFACTS + 1 }, (_, i) => ({ mediaType: OCI_MANIFEST_TYPE, digest: sha256(Buffer.from(String(i))), size: 100 }));
    source.putManifest('auren/api', fallback(image.manifest.digest), Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: made })), OCI_INDEX);
    const target = await hostile();
    await expect(planCopy({ from: { client: client(source), repository: 'auren/api', reference: 'v1' }, to: { client: client(target), repository: 'auren/api', tags: ['v1'] } })).rejects.toThrow(
      new RegExp(`lists more than ${MAX_ATTACHED_ARTIFACTS} artifacts attached to ${image.manifest.digest}`),
    );
    // Refused on the count: it never asked for the made-up digests one by one.
    expect(source.requests.filter((r) => made.some((m) => r.path.endsWith(m.digest)))).toEqual([]);
    expect(target.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]);
  });
});
