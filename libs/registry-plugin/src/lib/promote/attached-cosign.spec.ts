// @auren-test-tools cosign oras registry (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestRegistry, startTestRegistries } from '../../testing/registry-server.testing';
import { normalizeOptions, type AurenConfig } from '../config/options';
import { exec, which } from '../exec/exec';
import { createRegistryClient } from '../registry/client';
import { executePush, planPush } from '../registry/push';
import { writeTestLayout, type TestLayout } from '../registry/layout.testing';
import type { BuildProvenance } from '../reports/records';
import { attestProvenance, PROVENANCE_TYPE } from '../supply-chain/attest';
import { provenancePredicate, SLSA_PROVENANCE_V1 } from '../supply-chain/provenance';
import { attachArtifact } from '../supply-chain/referrers';
import { CYCLONEDX_MEDIA_TYPE, SBOM_FILE } from '../supply-chain/sbom';
import { signImage } from '../supply-chain/sign';
import { mirrorEntries, runMirror } from './mirror';
import { promoteImage } from './run';

/**
 * With the real tools: an image pushed to registry A gets an SBOM (our
 * attach), a cosign signature and a cosign SLSA provenance attestation (cosign v3 bundles,
 * stored as referrers in the `sha256-<hex>` fallback index); promote and mirror copy it to
 * registry B (distribution 3 on another port). On B, the real `cosign verify` and
 * `cosign verify-attestation --type slsaprovenance1` accept it with the same key (they sign the
 * digest, which the copy keeps), and `oras discover` lists the SBOM, the signature and the
 * provenance. And cosign's legacy `.sig` tag, which some admission controllers read, is merged
 * with the target's own.
 */

const PASSWORD = 'promote-attached-spec';
const BUNDLE = /^application\/vnd\.dev\.sigstore\.bundle(\.v[\d.]+)?\+json$/;

let a: TestRegistry;
let b: TestRegistry;
let work: string;
let image: TestLayout;
let config: AurenConfig;
let env: NodeJS.ProcessEnv;

const provenance = (digest: string): BuildProvenance => ({
  schemaVersion: 1,
  project: 'auren-api',
  digest,
  externalParameters: { dockerfile: 'apps/auren-api/Dockerfile', context: 'apps/auren-api', platforms: ['linux/amd64', 'linux/arm64'], buildArgs: {} },
  source: { uri: 'git+https://github.com/auren/platform.git', commit: '0123456789abcdef0123456789abcdef01234567', ref: 'refs/heads/main', dirty: false },
  packageLocks: [],
  builder: { name: 'buildah', version: '1.28.2' },
  runner: { id: 'https://auren.dev/registry-plugin/builder/local' },
  startedOn: '2026-01-02T03:04:05.000Z',
  finishedOn: '2026-01-02T03:05:06.000Z',
});

beforeAll(async () => {
  for (const tool of ['cosign', 'oras']) {
    if (!(await which(tool))) throw new Error(`${tool} is not on PATH (tools/.bin): this test needs the real one`);
  }
  [a, b] = await startTestRegistries({}, { flavor: 'distribution3' });
  work = await mkdtemp(join(tmpdir(), 'auren-promote-cosign-'));
  env = { ...process.env, HOME: work, XDG_CONFIG_HOME: join(work, 'config'), COSIGN_PASSWORD: PASSWORD };
  await exec('cosign', ['generate-key-pair'], { cwd: work, env });
  config = normalizeOptions({ registry: a.host, namespace: 'auren', signing: { key: join(work, 'cosign.key'), publicKey: join(work, 'cosign.pub') } }, {});

  image = await writeTestLayout({ platforms: ['linux/amd64', 'linux/arm64'] });
  const client = createRegistryClient({ registry: a.host });
  await executePush(client, await planPush(client, image.layout, { repository: 'auren/api', tags: ['main-abc1234'] }));
  const head = await client.manifestHead('auren/api', image.digest);
  if (head === 'not-found') throw new Error('the pushed image is not there');
  const sbom = Buffer.from(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [] }));
  await attachArtifact(client, {
    repository: 'auren/api',
    subject: { mediaType: head.mediaType, digest: head.digest, size: head.size },
    artifactType: CYCLONEDX_MEDIA_TYPE,
    files: [{ mediaType: CYCLONEDX_MEDIA_TYPE, data: sbom, annotations: { 'org.opencontainers.image.title': SBOM_FILE } }],
  });
  const common = {
    reference: `${a.host}/auren/api@${image.digest}`,
    registry: a.host,
    insecureRegistries: [],
    signing: config.signing,
    workspaceRoot: work,
    credentials: undefined,
    env,
  };
  await signImage(common);
  await attestProvenance({ ...common, predicate: provenancePredicate(provenance(image.digest)) });
}, 180_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
  if (image) await rm(image.dir, { recursive: true, force: true });
});

const cosign = (args: string[]) => exec('cosign', [...args, '--key', join(work, 'cosign.pub'), '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry'], { env: { ...env, COSIGN_PASSWORD: undefined }, okExitCodes: [1, 10, 11, 12, 13] });

interface Discovered {
  referrers?: Array<{ digest: string; artifactType: string; annotations?: Record<string, string>; referrers?: Discovered['referrers'] }>;
  manifests?: Discovered['referrers'];
}

async function discover(reference: string): Promise<Array<{ artifactType: string; predicateType?: string }>> {
  const result = await exec('oras', ['discover', '--plain-http', '--format', 'json', reference], { env });
  const parsed = JSON.parse(result.stdout) as Discovered;
  return (parsed.referrers ?? parsed.manifests ?? []).map((r) => ({ artifactType: r.artifactType, predicateType: r.annotations?.['dev.sigstore.bundle.predicateType'] }));
}

/**
 * `annotated`: cosign lists its bundles in the fallback index without their annotations; the
 * copy lists each artifact as the referrers API would, with its manifest's annotations, so the
 * target also says which bundle is the signature and which the provenance.
 */
async function expectCarried(reference: string, annotated = true): Promise<void> {
  const verified = await cosign(['verify', reference]);
  expect({ exitCode: verified.exitCode, stderr: verified.exitCode ? verified.stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
  const attested = await cosign(['verify-attestation', '--type', PROVENANCE_TYPE, reference]);
  expect({ exitCode: attested.exitCode, stderr: attested.exitCode ? attested.stderr : '' }).toEqual({ exitCode: 0, stderr: '' });
  const listed = await discover(reference);
  expect(listed.filter((r) => r.artifactType === CYCLONEDX_MEDIA_TYPE)).toHaveLength(1);
  const bundles = listed.filter((r) => BUNDLE.test(r.artifactType));
  expect(bundles.map((r) => r.predicateType).sort()).toEqual(annotated ? ['https://sigstore.dev/cosign/sign/v1', SLSA_PROVENANCE_V1].sort() : [undefined, undefined]);
}

it('the source itself verifies (the baseline the copies are held to)', async () => {
  await expectCarried(`${a.host}/auren/api@${image.digest}`, false);
});

it('promote --toRegistry: cosign verify, cosign verify-attestation --type slsaprovenance1 and oras discover accept the copy on the other registry', async () => {
  const outcome = await promoteImage({
    request: { source: { registry: a.host, repository: 'auren/api', reference: 'main-abc1234' }, target: { registry: b.host, repository: 'prod/api', tags: ['v1.0.0'] } },
    config,
    env,
    dryRun: false,
    log: () => undefined,
    connect: async (registry) => createRegistryClient({ registry }),
  });
  expect(outcome.plan.attached.artifacts.map((x) => x.kind).sort()).toEqual(['provenance', 'sbom', 'signature']);
  await expectCarried(`${b.host}/prod/api@${image.digest}`);
  // Through the tag, as a deployment names it.
  expect((await cosign(['verify', `${b.host}/prod/api:v1.0.0`])).exitCode).toBe(0);
});

it('mirror: the same on the mirrored copy', async () => {
  const outcomes = await runMirror({
    entries: mirrorEntries(['auren/api:main-abc1234'], { namespace: 'ext', sourceRegistry: a.host }),
    registry: b.host,
    target: createRegistryClient({ registry: b.host }),
    sourceClient: async (registry) => createRegistryClient({ registry }),
    dryRun: false,
    log: () => undefined,
  });
  expect(outcomes.map((o) => [o.status, o.error])).toEqual([['mirrored', undefined]]);
  await expectCarried(`${b.host}/ext/mirror/auren/api@${image.digest}`);
});

it('without the attachments the copy would not verify (the check above is not vacuous)', async () => {
  const bare = createRegistryClient({ registry: b.host });
  // The image alone, as promote copied it before attachments travelled.
  await executePush(bare, await planPush(bare, image.layout, { repository: 'bare/api', tags: ['v1.0.0'] }));
  expect((await cosign(['verify', `${b.host}/bare/api@${image.digest}`])).exitCode).not.toBe(0);
  expect(await discover(`${b.host}/bare/api@${image.digest}`)).toEqual([]);
});

describe("cosign's legacy format (the .sig tag some admission controllers read)", () => {
  let legacy: TestLayout;
  const otherKey = () => join(work, 'other', 'cosign.key');
  const signLegacy = (key: string, reference: string) =>
    exec('cosign', ['sign', '--key', key, '--new-bundle-format=false', '--use-signing-config=false', '--tlog-upload=false', '--yes', '--allow-http-registry', '--allow-insecure-registry', reference], { env });
  const verifyWith = (key: string, reference: string) =>
    exec('cosign', ['verify', '--key', key, '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', reference], { env: { ...env, COSIGN_PASSWORD: undefined }, okExitCodes: [1, 10, 11, 12, 13] });

  beforeAll(async () => {
    await mkdir(join(work, 'other'));
    await exec('cosign', ['generate-key-pair'], { cwd: join(work, 'other'), env });
    legacy = await writeTestLayout({ platforms: ['linux/amd64'] });
    const source = createRegistryClient({ registry: a.host });
    await executePush(source, await planPush(source, legacy.layout, { repository: 'auren/legacy', tags: ['main-abc1234'] }));
    await signLegacy(join(work, 'cosign.key'), `${a.host}/auren/legacy@${legacy.digest}`);
    // The target signed the same digest with a key of its own before the promote.
    const target = createRegistryClient({ registry: b.host });
    await executePush(target, await planPush(target, legacy.layout, { repository: 'prod/legacy', tags: [] }));
    await signLegacy(otherKey(), `${b.host}/prod/legacy@${legacy.digest}`);
  }, 120_000);
  afterAll(async () => {
    if (legacy) await rm(legacy.dir, { recursive: true, force: true });
  });

  it("promote merges our .sig into the target's: cosign verify accepts both keys there, and the image has no referrers that could have done it", async () => {
    const reference = `${b.host}/prod/legacy@${legacy.digest}`;
    expect((await verifyWith(join(work, 'cosign.pub'), reference)).exitCode).not.toBe(0);
    await promoteImage({
      request: { source: { registry: a.host, repository: 'auren/legacy', reference: 'main-abc1234' }, target: { registry: b.host, repository: 'prod/legacy', tags: ['v1.0.0'] } },
      config,
      env,
      dryRun: false,
      log: () => undefined,
      connect: async (registry) => createRegistryClient({ registry }),
    });
    for (const key of [join(work, 'cosign.pub'), join(work, 'other', 'cosign.pub')]) {
      const verified = await verifyWith(key, reference);
      expect({ key, exitCode: verified.exitCode, stderr: verified.exitCode ? verified.stderr : '' }).toEqual({ key, exitCode: 0, stderr: '' });
    }
    expect(await discover(reference)).toEqual([]);
  });
});
