// @auren-test-tools registry (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { type TestRegistry, startTestRegistries } from '../../testing/registry-server.testing';
import { normalizeOptions } from '../config/options';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import { fallbackTag, sha256Digest } from '../registry/digest';
import type { Descriptor } from '../registry/media-types';
import { executePush, planPush } from '../registry/push';
import { writeTestLayout, type TestLayout } from '../registry/layout.testing';
import { attachArtifact, listReferrers, updateFallbackIndex } from '../supply-chain/referrers';
import { CYCLONEDX_MEDIA_TYPE } from '../supply-chain/sbom';
import { copyPlanJson } from './copy-plan';
import { signatureConfig } from './legacy-tags';
import { mirrorEntries, runMirror } from './mirror';
import { promoteImage } from './run';

/**
 * Promote and mirror carry what is attached to an image (SBOM, signature, provenance: artifacts
 * whose `subject` is the image, listed by the `sha256-<hex>` referrers fallback index) to the
 * target, between two real distribution registries (2.8 as the source, 3 as the target).
 * The real cosign over the same path: attached-cosign.spec.ts.
 */

const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

let a: TestRegistry;
let b: TestRegistry;
let image: TestLayout;
/** What a request log line looks like: `PUT /v2/<repo>/manifests/<ref>`. */
let requests: string[] = [];
const clients = new Map<string, RegistryClient>();

const client = (host: string) => {
  let made = clients.get(host);
  if (!made) {
    made = createRegistryClient({ registry: host, onRequest: (method, url) => requests.push(`${method} ${host} ${new URL(url).pathname}`) });
    clients.set(host, made);
  }
  return made;
};
const writes = (host?: string) => requests.filter((r) => !r.startsWith('GET') && !r.startsWith('HEAD') && (!host || r.includes(` ${host} `)));

interface Attached {
  sbom: string;
  signature: string;
  childSbom: string;
  /** A signature of the SBOM: attached to an attachment. */
  sbomSignature: string;
}
let attached: Attached;

async function attach(c: RegistryClient, repository: string, subject: Descriptor, artifactType: string, text: string): Promise<string> {
  const mediaType = artifactType === BUNDLE ? BUNDLE : CYCLONEDX_MEDIA_TYPE;
  const result = await attachArtifact(c, { repository, subject, artifactType, files: [{ mediaType, data: Buffer.from(text) }] }, { settleMs: 5 });
  return result.digest;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const descriptorOf = async (c: RegistryClient, repository: string, digest: string): Promise<Descriptor> => {
  const head = await c.manifestHead(repository, digest);
  if (head === 'not-found') throw new Error(`${digest} is not in ${repository}`);
  return { mediaType: head.mediaType, digest: head.digest, size: head.size };
};

beforeAll(async () => {
  [a, b] = await startTestRegistries({}, { flavor: 'distribution3' });
  image = await writeTestLayout({ platforms: ['linux/amd64', 'linux/arm64'] });
  const src = client(a.host);
  await executePush(src, await planPush(src, image.layout, { repository: 'auren/api', tags: ['main-abc1234'] }));
  const top = await descriptorOf(src, 'auren/api', image.digest);
  const child = await descriptorOf(src, 'auren/api', image.layout.manifests[0].digest);
  const sbom = await attach(src, 'auren/api', top, CYCLONEDX_MEDIA_TYPE, '{"bomFormat":"CycloneDX","specVersion":"1.6"}');
  attached = {
    sbom,
    signature: await attach(src, 'auren/api', top, BUNDLE, '{"signature":"of the index"}'),
    childSbom: await attach(src, 'auren/api', child, CYCLONEDX_MEDIA_TYPE, '{"bomFormat":"CycloneDX","specVersion":"1.6","of":"amd64"}'),
    sbomSignature: await attach(src, 'auren/api', await descriptorOf(src, 'auren/api', sbom), BUNDLE, '{"signature":"of the SBOM"}'),
  };
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  if (image) await rm(image.dir, { recursive: true, force: true });
});

beforeEach(() => {
  requests = [];
});

const promote = (target: { registry: string; repository: string; tags: string[] }, dryRun = false, lines: string[] = []) =>
  promoteImage({
    request: { source: { registry: a.host, repository: 'auren/api', reference: 'main-abc1234' }, target },
    config: normalizeOptions({ registry: a.host, namespace: 'auren' }, {}),
    env: {},
    dryRun,
    log: (line) => lines.push(line),
    connect: async (registry) => client(registry),
  });

const referrers = async (host: string, repository: string, subject: string) => (await listReferrers(client(host), repository, subject)).map((d) => d.digest).sort();

describe('promote to another registry', () => {
  it('prints the attached artifacts in the plan and writes nothing in a dry run', async () => {
    const lines: string[] = [];
    const outcome = await promote({ registry: b.host, repository: 'prod/api', tags: ['v1.0.0'] }, true, lines);
    expect(outcome.status).toBe('dry-run');
    expect(lines.join('\n')).toMatch(/attached: 4 artifacts to copy \(2 SBOMs, 2 signatures\), 0 already there; referrers index of 3 subjects to update/);
    expect(copyPlanJson(outcome.plan).attached).toMatchObject({
      artifacts: expect.arrayContaining([expect.objectContaining({ digest: attached.sbomSignature, subject: attached.sbom, action: 'copy' })]),
    });
    expect(writes()).toEqual([]);
  });

  it('copies every artifact attached to the index, to its children and to its attachments, before the tag, and keeps what another writer listed', async () => {
    // Another writer (cosign in the target's own pipeline, say) attached something to the same digest first.
    const theirs = await attach(client(b.host), 'prod/api', await descriptorOf(client(a.host), 'auren/api', image.digest), BUNDLE, '{"signature":"by the target"}');
    requests = [];

    const outcome = await promote({ registry: b.host, repository: 'prod/api', tags: ['v1.0.0'] });
    expect(outcome.status).toBe('promoted');

    expect(await referrers(b.host, 'prod/api', image.digest)).toEqual([attached.sbom, attached.signature, theirs].sort());
    expect(await referrers(b.host, 'prod/api', image.layout.manifests[0].digest)).toEqual([attached.childSbom]);
    expect(await referrers(b.host, 'prod/api', attached.sbom)).toEqual([attached.sbomSignature]);
    // Byte for byte, so the digests (which signatures sign) are the same on both sides.
    for (const digest of Object.values(attached)) {
      const [from, to] = await Promise.all([client(a.host).manifestGet('auren/api', digest), client(b.host).manifestGet('prod/api', digest)]);
      expect(to).not.toBe('not-found');
      expect((to as { body: Buffer }).body.equals((from as { body: Buffer }).body)).toBe(true);
    }
    // The version tag is written after the attachments: a consumer that sees the tag finds them.
    const tagPut = writes(b.host).indexOf(`PUT ${b.host} /v2/prod/api/manifests/v1.0.0`);
    const lastIndexPut = writes(b.host).lastIndexOf(`PUT ${b.host} /v2/prod/api/manifests/${fallbackTag(image.digest)}`);
    expect(tagPut).toBeGreaterThan(lastIndexPut);
    expect(lastIndexPut).toBeGreaterThanOrEqual(0);
  });

  it('a second promote has nothing left to write', async () => {
    const outcome = await promote({ registry: b.host, repository: 'prod/api', tags: ['v1.0.0'] });
    expect(outcome.status).toBe('unchanged');
    expect(writes()).toEqual([]);
  });
});

it('promote to another repository of the same registry mounts the attachments', async () => {
  const outcome = await promote({ registry: a.host, repository: 'auren/api-prod', tags: ['v1.0.0'] });
  expect(outcome.status).toBe('promoted');
  expect(await referrers(a.host, 'auren/api-prod', image.digest)).toEqual([attached.sbom, attached.signature].sort());
  expect(await referrers(a.host, 'auren/api-prod', attached.sbom)).toEqual([attached.sbomSignature]);
  // Every blob moved by a cross-repository mount, none by an upload.
  expect(writes().filter((r) => r.startsWith('POST'))).not.toEqual([]);
  expect(writes().filter((r) => r.startsWith('PATCH') || (r.startsWith('PUT') && r.includes('/blobs/uploads/')))).toEqual([]);
});

it('promote within one repository copies nothing: attachments are keyed by digest and already there', async () => {
  const outcome = await promote({ registry: a.host, repository: 'auren/api', tags: ['stable'] });
  expect(outcome.status).toBe('promoted');
  expect(writes()).toEqual([`PUT ${a.host} /v2/auren/api/manifests/stable`]);
  expect(copyPlanJson(outcome.plan).attached).toMatchObject({ artifacts: [] });
  expect(await referrers(a.host, 'auren/api', image.digest)).toEqual([attached.sbom, attached.signature].sort());
});

it('mirror carries the attachments too', async () => {
  const outcomes = await runMirror({
    entries: mirrorEntries(['auren/api:main-abc1234'], { namespace: 'ext', sourceRegistry: a.host }),
    registry: b.host,
    target: client(b.host),
    sourceClient: async (registry) => client(registry),
    dryRun: false,
    log: () => undefined,
  });
  expect(outcomes.map((o) => [o.status, o.error])).toEqual([['mirrored', undefined]]);
  expect(await referrers(b.host, 'ext/mirror/auren/api', image.digest)).toEqual([attached.sbom, attached.signature].sort());
  expect(await referrers(b.host, 'ext/mirror/auren/api', image.layout.manifests[0].digest)).toEqual([attached.childSbom]);
  expect(await referrers(b.host, 'ext/mirror/auren/api', attached.sbom)).toEqual([attached.sbomSignature]);
});

it('an entry of the source index whose manifest is not attached to that image is not copied', async () => {
  const other = await writeTestLayout({ platforms: ['linux/amd64'] });
  try {
    const src = client(a.host);
    await executePush(src, await planPush(src, other.layout, { repository: 'auren/api', tags: ['other'] }));
    const foreign = await attach(src, 'auren/api', await descriptorOf(src, 'auren/api', other.digest), BUNDLE, '{"signature":"of another image"}');
    // Someone lists it under our image as well: the index is a hint, the artifact's subject is the truth.
    await updateFallbackIndex(src, 'auren/api', image.digest, { add: [{ ...(await descriptorOf(src, 'auren/api', foreign)), artifactType: BUNDLE }] }, { settleMs: 5 });
    const lines: string[] = [];
    await promote({ registry: b.host, repository: 'prod/api-2', tags: ['v1.0.0'] }, false, lines);
    expect(lines.join('\n')).toMatch(new RegExp(`not copied: ${foreign} is listed for ${image.digest} but attached to ${other.digest}`));
    expect(await referrers(b.host, 'prod/api-2', image.digest)).toEqual([attached.sbom, attached.signature].sort());
    expect(await client(b.host).manifestHead('prod/api-2', foreign)).toBe('not-found');
    await updateFallbackIndex(src, 'auren/api', image.digest, { remove: [foreign] }, { settleMs: 5 });
  } finally {
    await rm(other.dir, { recursive: true, force: true });
  }
});

describe("cosign's legacy tags (sha256-<hex>.sig, .att, .sbom)", () => {
  const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
  let legacy: TestLayout;
  const tag = (suffix: string) => `${fallbackTag(legacy.digest)}.${suffix}`;

  /** A signature image as cosign writes it: one layer per signature, the signature in an annotation. */
  async function signatureImage(c: RegistryClient, repository: string, name: string, signatures: string[]): Promise<void> {
    const payload = Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': legacy.digest } } }));
    await c.blobUpload(repository, { digest: sha256Digest(payload), size: payload.length, open: () => Readable.from([payload]) });
    const layers = signatures.map((signature) => ({ mediaType: SIMPLE_SIGNING, digest: sha256Digest(payload), size: payload.length, annotations: { 'dev.cosignproject.cosign/signature': signature } }));
    const config = signatureConfig(layers);
    await c.blobUpload(repository, { digest: sha256Digest(config), size: config.length, open: () => Readable.from([config]) });
    const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256Digest(config), size: config.length }, layers };
    await c.manifestPut(repository, name, Buffer.from(JSON.stringify(manifest)), manifest.mediaType);
  }

  const signaturesIn = async (host: string, repository: string, name: string) => {
    const got = await client(host).manifestGet(repository, name);
    if (got === 'not-found') return undefined;
    const manifest = JSON.parse(got.body.toString('utf8')) as { config: { digest: string }; layers: Array<{ annotations: Record<string, string> }> };
    const config = JSON.parse(await readAll(await client(host).blobGet(repository, manifest.config.digest))) as { rootfs: { diff_ids: string[] }; history: unknown[] };
    return { signatures: manifest.layers.map((l) => l.annotations['dev.cosignproject.cosign/signature']), diffIds: config.rootfs.diff_ids.length, history: config.history.length };
  };

  beforeAll(async () => {
    legacy = await writeTestLayout({ platforms: ['linux/amd64'] });
    const src = client(a.host);
    await executePush(src, await planPush(src, legacy.layout, { repository: 'auren/legacy', tags: ['main-abc1234'] }));
    await signatureImage(src, 'auren/legacy', tag('sig'), ['ours-1', 'ours-2']);
    await signatureImage(src, 'auren/legacy', tag('sbom'), ['our-sbom']);
  });
  afterAll(async () => {
    if (legacy) await rm(legacy.dir, { recursive: true, force: true });
  });

  const promoteLegacy = (repository: string, dryRun = false, lines: string[] = []) =>
    promoteImage({
      request: { source: { registry: a.host, repository: 'auren/legacy', reference: 'main-abc1234' }, target: { registry: b.host, repository, tags: ['v1.0.0'] } },
      config: normalizeOptions({ registry: a.host, namespace: 'auren' }, {}),
      env: {},
      dryRun,
      log: (line) => lines.push(line),
      connect: async (registry) => client(registry),
    });

  it('are copied when the target has none', async () => {
    await promoteLegacy('prod/legacy');
    expect(await signaturesIn(b.host, 'prod/legacy', tag('sig'))).toEqual({ signatures: ['ours-1', 'ours-2'], diffIds: 2, history: 2 });
    expect(await signaturesIn(b.host, 'prod/legacy', tag('sbom'))).toMatchObject({ signatures: ['our-sbom'] });
    requests = [];
    expect((await promoteLegacy('prod/legacy')).status).toBe('unchanged');
    expect(writes()).toEqual([]);
  });

  it("are merged with the target's own signatures, never replacing them; an .sbom of the target's own is kept", async () => {
    await signatureImage(client(b.host), 'prod/legacy-2', tag('sig'), ['theirs', 'ours-2']);
    await signatureImage(client(b.host), 'prod/legacy-2', tag('sbom'), ['their-sbom']);
    requests = [];
    const lines: string[] = [];
    await promoteLegacy('prod/legacy-2', true, lines);
    expect(lines.join('\n')).toMatch(new RegExp(`cosign tag ${tag('sig')}: merge[^]*cosign tag ${tag('sbom')}: the target's own is kept`));
    expect(writes()).toEqual([]);

    await promoteLegacy('prod/legacy-2');
    expect(await signaturesIn(b.host, 'prod/legacy-2', tag('sig'))).toEqual({ signatures: ['theirs', 'ours-2', 'ours-1'], diffIds: 3, history: 3 });
    expect(await signaturesIn(b.host, 'prod/legacy-2', tag('sbom'))).toMatchObject({ signatures: ['their-sbom'] });
  });
});
