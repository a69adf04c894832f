// @auren-test-tools trivy oras cosign (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestRegistry } from '../../testing/registry-server.testing';
import { normalizeOptions, type AurenConfig } from '../config/options';
import { exec, which } from '../exec/exec';
import { executePush, planPush } from '../registry/push';
import { runMonitor } from './collect';
import { normalizeMonitorOptions } from './options';
import { writeDebianLayout, type DebianLayout } from '../supply-chain/debian-layout.testing';
import { noLayerCache } from '../layer-cache/layer-cache';
import type { BuildProvenance } from '../reports/records';
import { verifyProvenance } from '../supply-chain/attest';
import { packageLocks, SLSA_PROVENANCE_V1 } from '../supply-chain/provenance';
import { publishSupplyChain } from '../supply-chain/publish';
import { attachArtifact, attachedBundles, COSIGN_SIGN_PREDICATE, listReferrers, updateFallbackIndex } from '../supply-chain/referrers';
import { CYCLONEDX_MEDIA_TYPE, generateSbom, SBOM_FILE } from '../supply-chain/sbom';
import { signImage } from '../supply-chain/sign';
import { publicKeyHint, verifyImage } from '../supply-chain/verify';

/**
 * With the real tools: trivy makes the SBOM,
 * our client pushes and attaches it, cosign signs and attests the SLSA provenance; the real
 * `cosign verify`, `cosign verify-attestation` and `oras discover`/`oras pull` judge.
 */

const PASSWORD = 'correct horse battery staple';
const SIGSTORE_BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const LOCK = 'base-files=12.4+deb12u13\nbash=5.2.15-2+b9\n';

/** What docker-build records for an image it built (lib/pipeline/build-provenance.spec.ts checks the build side). */
const provenanceOf = async (app: string, layout: DebianLayout): Promise<BuildProvenance> => ({
  schemaVersion: 1,
  project: app,
  digest: layout.digest,
  externalParameters: { dockerfile: `apps/${app}/Dockerfile`, context: `apps/${app}`, platforms: ['linux/amd64'], buildArgs: { BASE_IMAGE: 'base' } },
  source: { uri: 'git+https://github.com/auren/platform.git', commit: COMMIT, ref: 'refs/heads/main', dirty: false },
  packageLocks: await packageLocks(layout.layout, noLayerCache()),
  builder: { name: 'buildah', version: '1.28.2' },
  runner: { id: 'https://auren.dev/registry-plugin/builder/local' },
  startedOn: '2026-01-02T03:04:05.000Z',
  finishedOn: '2026-01-02T03:05:06.000Z',
});

const APPS: Record<string, string[]> = {
  'auren-api': ['base-files', 'bash', 'ca-certificates', 'zlib1g'],
  'biometric-bridge': ['base-files', 'dash', 'libc6', 'tzdata'],
  'auren-nginx': ['base-files', 'libpcre2-8-0', 'libssl3', 'openssl'],
};

interface CycloneDx {
  bomFormat: string;
  components?: Array<{ name: string; version?: string; purl?: string }>;
}

describe('supply chain: SBOM attached and signature verified on every pushed digest', () => {
  const { registry, client } = useTestRegistry();
  let work: string;
  let config: AurenConfig;
  const env = { ...process.env, COSIGN_PASSWORD: PASSWORD };
  const layouts: DebianLayout[] = [];
  const pushed: Record<string, { digest: string; layout: DebianLayout }> = {};

  const cosign = (args: string[]) =>
    exec('cosign', args, { env: { ...env, COSIGN_PASSWORD: undefined }, okExitCodes: [1, 10, 11, 12, 13] });
  const cosignVerify = (ref: string, key = join(work, 'cosign.pub')) =>
    cosign(['verify', '--key', key, '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', ref]);
  const ref = (app: string, digest: string) => `${registry.host}/auren/${app}@${digest}`;

  /** The real cosign behind a wrapper that writes down each subcommand it is asked to run. */
  async function cosignWatch(): Promise<{ env: NodeJS.ProcessEnv; read: () => Promise<string[]> }> {
    const dir = await mkdtemp(join(work, 'cosign-watch-'));
    const real = await which('cosign');
    const log = join(dir, 'calls.log');
    await writeFile(join(dir, 'cosign'), `#!/bin/sh\necho "$1" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
    return {
      env: { ...env, PATH: `${dir}:${process.env.PATH}` },
      read: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean),
    };
  }

  async function push(app: string, layout: DebianLayout): Promise<void> {
    await executePush(client, await planPush(client, layout.layout, { repository: `auren/${app}`, tags: ['1.0.0'] }));
  }

  beforeAll(async () => {
    for (const tool of ['cosign', 'trivy', 'oras']) {
      if (!(await which(tool))) throw new Error(`${tool} is not on PATH (tools/.bin): this test needs the real one`);
    }
    work = await mkdtemp(join(tmpdir(), 'auren-supply-'));
    await exec('cosign', ['generate-key-pair'], { cwd: work, env });
    config = normalizeOptions({ registry: registry.host, signing: { key: join(work, 'cosign.key'), publicKey: join(work, 'cosign.pub') } }, {});

    for (const [app, packages] of Object.entries(APPS)) {
      const layout = await writeDebianLayout(packages, { 'app/main.py': `print("${app}")\n`, 'usr/share/auren/packages.lock': LOCK });
      layouts.push(layout);
      const scanDir = join(work, `${app}-scan`);
      const sbom = await generateSbom({ layoutDir: layout.dir, digest: layout.digest, outputFile: join(scanDir, SBOM_FILE), env });
      expect(sbom).toEqual(expect.objectContaining({ status: 'generated' }));
      await push(app, layout);
      const outcome = await publishSupplyChain({
        client,
        config,
        workspaceRoot: work,
        repository: `auren/${app}`,
        digest: layout.digest,
        sbomFile: join(scanDir, SBOM_FILE),
        provenance: await provenanceOf(app, layout),
        credentials: undefined,
        env,
        log: () => undefined,
        warn: (line) => {
          throw new Error(line);
        },
      });
      expect(outcome).toMatchObject({ sbom: { status: 'attached' }, signature: { status: 'signed' }, provenance: { status: 'attested' } });
      pushed[app] = { digest: layout.digest, layout };
    }
  }, 300_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    await Promise.all(layouts.map((l) => rm(l.dir, { recursive: true, force: true })));
  });

  it.each(Object.keys(APPS))('cosign verify --key cosign.pub accepts the pushed digest of %s', async (app) => {
    const result = await cosignVerify(ref(app, pushed[app].digest));
    expect(result.exitCode).toBe(0);
    expect(await verifyImage({ reference: ref(app, pushed[app].digest), registry: registry.host, insecureRegistries: [], signing: config.signing, workspaceRoot: work, credentials: undefined, env })).toEqual({
      status: 'verified',
      reference: ref(app, pushed[app].digest),
    });
  });

  it.each(Object.keys(APPS))('cosign verify-attestation --type slsaprovenance1 accepts the provenance of %s: a statement about the digest with the build definition', async (app) => {
    const { digest } = pushed[app];
    const result = await cosign(['verify-attestation', '--type', 'slsaprovenance1', '--key', join(work, 'cosign.pub'), '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', ref(app, digest)]);
    expect(result.exitCode).toBe(0);
    const envelope = JSON.parse(result.stdout.trim().split('\n')[0]) as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(statement._type).toMatch(/^https:\/\/in-toto\.io\/Statement\/v(0\.1|1)$/);
    expect(statement.predicateType).toBe(SLSA_PROVENANCE_V1);
    expect(statement.subject).toEqual([{ name: `${registry.host}/auren/${app}`, digest: { sha256: digest.slice(7) } }]);
    expect(statement.predicate.buildDefinition.resolvedDependencies).toEqual(
      expect.arrayContaining([
        { uri: 'git+https://github.com/auren/platform.git@refs/heads/main', digest: { gitCommit: COMMIT }, name: 'source' },
        expect.objectContaining({ name: 'packages.lock (linux/amd64)', digest: { sha256: createHash('sha256').update(LOCK).digest('hex') } }),
      ]),
    );
    expect(statement.predicate.runDetails.builder.version).toMatchObject({ buildah: '1.28.2' });
  });

  it('verifyProvenance checks the source repository and the builder, and refuses another key or no provenance', async () => {
    const common = { registry: registry.host, insecureRegistries: [], signing: config.signing, workspaceRoot: work, credentials: undefined, env };
    const reference = ref('auren-nginx', pushed['auren-nginx'].digest);
    await expect(verifyProvenance({ ...common, reference, expect: { sourceRepository: 'git@github.com:auren/platform.git', builderId: 'https://auren.dev/registry-plugin/builder/local' } }))
      .resolves.toMatchObject({ status: 'verified' });
    await expect(verifyProvenance({ ...common, reference, expect: { sourceRepository: 'https://github.com/mallory/platform' } }))
      .resolves.toMatchObject({ status: 'unverified', reason: expect.stringContaining('not https://github.com/mallory/platform') });
    await expect(verifyProvenance({ ...common, reference, expect: { builderId: 'https://github.com/auren/platform/.github/workflows/release.yml@refs/heads/main' } }))
      .resolves.toMatchObject({ status: 'unverified', reason: expect.stringContaining('built by https://auren.dev/registry-plugin/builder/local') });
    const other = await mkdtemp(join(work, 'other-attest-key-'));
    await exec('cosign', ['generate-key-pair'], { cwd: other, env });
    const otherKey = normalizeOptions({ registry: registry.host, signing: { key: join(other, 'cosign.key'), publicKey: join(other, 'cosign.pub') } }, {}).signing;
    await expect(verifyProvenance({ ...common, signing: otherKey, reference })).resolves.toMatchObject({ status: 'unverified' });
    const bare = await writeDebianLayout(['base-files']);
    layouts.push(bare);
    await push('no-provenance', bare);
    await expect(verifyProvenance({ ...common, reference: ref('no-provenance', bare.digest) })).resolves.toMatchObject({ status: 'unverified' });
  });

  it.each(Object.keys(APPS))('oras discover lists the CycloneDX SBOM, the signature and the provenance of %s; the SBOM names its dpkg packages', async (app) => {
    const { digest, layout } = pushed[app];
    const discovered = JSON.parse((await exec('oras', ['discover', '--plain-http', '--format', 'json', ref(app, digest)])).stdout) as {
      referrers?: Array<{ digest: string; artifactType: string }>;
      manifests?: Array<{ digest: string; artifactType: string }>;
    };
    const referrers = discovered.referrers ?? discovered.manifests ?? [];
    expect(referrers.map((r) => r.artifactType).sort()).toEqual([CYCLONEDX_MEDIA_TYPE, SIGSTORE_BUNDLE, SIGSTORE_BUNDLE].sort());
    // cosign v3 writes signature and attestation as the same bundle type, told apart by the
    // predicate type on the bundle's manifest (the fallback index does not copy annotations).
    const predicateTypes = await Promise.all(
      referrers.filter((r) => r.artifactType === SIGSTORE_BUNDLE).map(async (r) => {
        const got = await client.manifestGet(`auren/${app}`, r.digest);
        if (got === 'not-found') throw new Error(`${r.digest} is listed but not in the registry`);
        return (JSON.parse(got.body.toString('utf8')) as { annotations?: Record<string, string> }).annotations?.['dev.sigstore.bundle.predicateType'];
      }),
    );
    expect(predicateTypes.sort()).toEqual(['https://sigstore.dev/cosign/sign/v1', SLSA_PROVENANCE_V1]);

    const sbomRef = referrers.find((r) => r.artifactType === CYCLONEDX_MEDIA_TYPE)!;
    const out = await mkdtemp(join(work, 'pull-'));
    await exec('oras', ['pull', '--plain-http', '-o', out, ref(app, sbomRef.digest)]);
    expect(await readdir(out)).toEqual([SBOM_FILE]);
    const sbom = JSON.parse(await readFile(join(out, SBOM_FILE), 'utf8')) as CycloneDx;
    expect(sbom.bomFormat).toBe('CycloneDX');
    for (const pkg of layout.packages) {
      const component = (sbom.components ?? []).find((c) => c.name === pkg.name);
      expect(component).toBeDefined();
      expect(component!.version).toBe(pkg.version);
      expect(component!.purl).toMatch(new RegExp(`^pkg:deb/debian/${pkg.name.replace(/[+.]/g, '\\$&')}@`));
    }
  });

  it('fails for an image pushed without signing', async () => {
    const layout = await writeDebianLayout(['base-files']);
    layouts.push(layout);
    await push('unsigned', layout);
    const result = await cosignVerify(ref('unsigned', layout.digest));
    expect(result.exitCode).not.toBe(0);
    const ours = await verifyImage({ reference: ref('unsigned', layout.digest), registry: registry.host, insecureRegistries: [], signing: config.signing, workspaceRoot: work, credentials: undefined, env });
    expect(ours.status).toBe('unverified');
  });

  it('fails for a tampered digest: another image under the signed tag, or a digest that was never signed', async () => {
    // Someone pushes a different image over auren-api:1.0.0; its digest carries no signature.
    const tampered = await writeDebianLayout(APPS['auren-api']);
    layouts.push(tampered);
    await push('auren-api', tampered);
    expect((await cosignVerify(`${registry.host}/auren/auren-api:1.0.0`)).exitCode).not.toBe(0);
    expect((await cosignVerify(ref('auren-api', tampered.digest))).exitCode).not.toBe(0);
    const signed = pushed['auren-api'].digest;
    const flipped = `${signed.slice(0, -1)}${signed.endsWith('0') ? '1' : '0'}`;
    expect((await cosignVerify(ref('auren-api', flipped))).exitCode).not.toBe(0);
    // The signed digest itself still verifies.
    expect((await cosignVerify(ref('auren-api', signed))).exitCode).toBe(0);
  });

  it('fails with another key pair', async () => {
    const other = await mkdtemp(join(work, 'other-key-'));
    await exec('cosign', ['generate-key-pair'], { cwd: other, env });
    expect((await cosignVerify(ref('auren-nginx', pushed['auren-nginx'].digest), join(other, 'cosign.pub'))).exitCode).not.toBe(0);
  });

  it('publishing again (a fresh SBOM from another scan) changes nothing: one SBOM, one signature and one provenance per digest', async () => {
    const app = 'biometric-bridge';
    const before = await listReferrers(client, `auren/${app}`, pushed[app].digest);
    const scanDir = await mkdtemp(join(work, 'again-'));
    await generateSbom({ layoutDir: pushed[app].layout.dir, digest: pushed[app].digest, outputFile: join(scanDir, SBOM_FILE), env });
    const outcome = await publishSupplyChain({
      client, config, workspaceRoot: work, repository: `auren/${app}`, digest: pushed[app].digest, sbomFile: join(scanDir, SBOM_FILE),
      provenance: await provenanceOf(app, pushed[app].layout), credentials: undefined, env, log: () => undefined, warn: () => undefined,
    });
    expect(outcome).toMatchObject({ sbom: { status: 'already-attached' }, signature: { status: 'already-signed' }, provenance: { status: 'already-attested' } });
    expect(await listReferrers(client, `auren/${app}`, pushed[app].digest)).toEqual(before);
  });

  it('attests the scan\'s OpenVEX documents to the digest with the same key; cosign verify-attestation --type openvex verifies them; once per document', async () => {
    const app = 'auren-api';
    const { digest, layout } = pushed[app];
    const scanDir = await mkdtemp(join(work, 'vex-'));
    await generateSbom({ layoutDir: layout.dir, digest, outputFile: join(scanDir, SBOM_FILE), env });
    // What the scan writes under scan/vex/: the document with its statements in force (lib/scanners/vex.ts).
    const document = {
      '@context': 'https://openvex.dev/ns/v0.2.0',
      '@id': 'https://auren.test/vex/auren-api-2026-001',
      author: 'AUREN platform team',
      timestamp: '2026-11-20T00:00:00Z',
      version: 1,
      statements: [{ vulnerability: { name: 'CVE-2026-90001' }, products: [{ '@id': 'pkg:deb/debian/python3-fastapi' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
    };
    await mkdir(join(scanDir, 'vex'));
    await writeFile(join(scanDir, 'vex', '01-vex_auren-api.openvex.json'), JSON.stringify(document, null, 2));
    const publish = () =>
      publishSupplyChain({
        client, config, workspaceRoot: work, repository: `auren/${app}`, digest, sbomFile: join(scanDir, SBOM_FILE),
        provenance: undefined, credentials: undefined, env, log: () => undefined, warn: () => undefined,
      });
    expect((await publish()).vex).toEqual({ attested: 1, already: 0 });

    const result = await cosign(['verify-attestation', '--type', 'openvex', '--key', join(work, 'cosign.pub'), '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', ref(app, digest)]);
    expect(result.exitCode).toBe(0);
    const statement = JSON.parse(Buffer.from((JSON.parse(result.stdout.trim().split('\n')[0]) as { payload: string }).payload, 'base64').toString('utf8'));
    expect(statement.predicateType).toBe('https://openvex.dev/ns');
    expect(statement.subject).toEqual([{ name: `${registry.host}/auren/${app}`, digest: { sha256: digest.slice(7) } }]);
    expect(statement.predicate).toEqual(document);
    // Another key does not verify it.
    const other = await mkdtemp(join(work, 'other-key-'));
    await exec('cosign', ['generate-key-pair'], { cwd: other, env });
    expect((await cosign(['verify-attestation', '--type', 'openvex', '--key', join(other, 'cosign.pub'), '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', ref(app, digest)])).exitCode).not.toBe(0);

    const before = await listReferrers(client, `auren/${app}`, digest);
    expect((await publish()).vex).toEqual({ attested: 0, already: 1 });
    expect(await listReferrers(client, `auren/${app}`, digest)).toEqual(before);
  }, 300_000);

  it('the monitor counts unsigned images and images without SBOM, and does not take referrer indexes for images', async () => {
    const unsignedLayout = await writeDebianLayout(['base-files']);
    layouts.push(unsignedLayout);
    await push('plain', unsignedLayout);
    const monitor = async (thresholds: Record<string, number>) =>
      runMonitor({
        client,
        registry: registry.host,
        namespace: 'auren',
        workspaceRoot: work,
        config: normalizeMonitorOptions({ repositories: [...Object.keys(APPS), 'plain'], pullTest: false, thresholds }, { workspaceRoot: work, registry: registry.host, env: {} }),
      });
    const report = await monitor({});
    for (const repo of report.repositories) {
      expect(repo.images.every((i) => !i.tags.some((t) => t.startsWith('sha256-')))).toBe(true);
    }
    const byApp = Object.fromEntries(report.repositories.map((r) => [r.app, r.images.find((i) => i.digest === r.newest)]));
    expect(byApp['biometric-bridge']).toMatchObject({ signed: true, sbom: true });
    expect(byApp.plain).toMatchObject({ signed: false, sbom: false });
    const check = (metric: string, r = report) => r.checks.find((c) => c.metric === metric)!;
    // auren-api:1.0.0 now names the tampered image (an earlier test): unsigned, no SBOM either.
    expect(byApp['auren-api']).toMatchObject({ signed: false, sbom: false });
    expect(check('unsigned-images')).toMatchObject({ level: 'warn', value: 2 });
    expect(check('unsigned-images').message).toContain('auren/plain:1.0.0');
    expect(check('unsigned-images').message).toContain('auren/auren-api:1.0.0');
    expect(check('images-without-sbom')).toMatchObject({ level: 'warn', value: 2 });
    const strict = await monitor({ unsignedImagesAlert: 0, imagesWithoutSbomAlert: 2 });
    expect(check('unsigned-images', strict)).toMatchObject({ level: 'alert' });
    expect(check('images-without-sbom', strict)).toMatchObject({ level: 'warn' });
    expect(strict.status).toBe('alert');
  });

  it('signs only by digest and never prints the key password', async () => {
    await expect(
      signImage({ reference: `${registry.host}/auren/auren-api:1.0.0`, registry: registry.host, insecureRegistries: [], signing: config.signing, workspaceRoot: work, credentials: undefined, env }),
    ).rejects.toThrow(/sign by digest/);
    const wrong = { ...env, COSIGN_PASSWORD: 'not-the-password-4242' };
    const error = await signImage({ reference: ref('auren-api', pushed['auren-api'].digest), registry: registry.host, insecureRegistries: [], signing: config.signing, workspaceRoot: work, credentials: undefined, env: wrong }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/cosign could not sign/);
    expect((error as Error).message).not.toContain('not-the-password-4242');
  });
  it('a released image pushed from a machine that did not build it: its signature and provenance from another identity are reported, nothing is signed or attested', async () => {
    const other = await mkdtemp(join(work, 'second-machine-'));
    await exec('cosign', ['generate-key-pair'], { cwd: other, env });
    const second = normalizeOptions({ registry: registry.host, signing: { key: join(other, 'cosign.key'), publicKey: join(other, 'cosign.pub') } }, {});
    const app = 'auren-nginx';
    const before = await listReferrers(client, `auren/${app}`, pushed[app].digest);
    const warnings: string[] = [];
    const calls = await cosignWatch();
    const outcome = await publishSupplyChain({
      client, config: second, workspaceRoot: work, repository: `auren/${app}`, digest: pushed[app].digest, sbomFile: join(other, 'none.json'),
      credentials: undefined, env: calls.env, log: () => undefined, warn: (line) => void warnings.push(line),
    });
    expect(outcome.provenance).toEqual({ status: 'attested-elsewhere' });
    expect(outcome.signature).toEqual({ status: 'already-signed', by: 'another identity (this machine did not build it)' });
    expect(warnings).toEqual([]);
    // The bundles name the first key (their key hint), so cosign was not asked to verify them with the second.
    expect(await calls.read()).toEqual([]);
    // Nothing was added: every machine converges on the same registry.
    expect(await listReferrers(client, `auren/${app}`, pushed[app].digest)).toEqual(before);
  });

  it('a machine with no key pair yet (nothing configured, the embedded registry) converging on a release signed elsewhere makes no key pair and runs no cosign; an unsigned one it signs', async () => {
    const fresh = await mkdtemp(join(work, 'fresh-machine-'));
    const local = normalizeOptions({ registry: registry.host }, {});
    expect(local.signing.mode).toBe('local');
    const app = 'auren-api';
    const vexDir = join(fresh, 'scan', 'vex');
    await mkdir(vexDir, { recursive: true });
    await writeFile(join(vexDir, 'accepted.openvex.json'), '{}');
    const before = await listReferrers(client, `auren/${app}`, pushed[app].digest);
    const calls = await cosignWatch();
    const logs: string[] = [];
    const warnings: string[] = [];
    const publish = (digest: string, repository: string) => publishSupplyChain({
      client, config: local, workspaceRoot: fresh, repository, digest, sbomFile: join(fresh, 'scan', SBOM_FILE),
      credentials: undefined, env: calls.env, log: (line) => void logs.push(line), warn: (line) => void warnings.push(line),
    });
    const outcome = await publish(pushed[app].digest, `auren/${app}`);
    expect(outcome).toMatchObject({ signature: { status: 'already-signed', by: 'another identity (this machine did not build it)' }, provenance: { status: 'attested-elsewhere' } });
    expect(warnings).toEqual([]);
    expect(logs.join('\n')).toContain('OpenVEX: ');
    expect(await calls.read()).toEqual([]);
    await expect(readdir(join(fresh, '.auren'))).rejects.toThrow(/ENOENT/);
    expect(await listReferrers(client, `auren/${app}`, pushed[app].digest)).toEqual(before);

    // An image nobody signed: this machine signs it, so the pair is made for that.
    await rm(vexDir, { recursive: true });
    const unsigned = await writeDebianLayout(['base-files']);
    layouts.push(unsigned);
    await push('unsigned-fresh', unsigned);
    const signed = await publish(unsigned.digest, 'auren/unsigned-fresh');
    expect(signed.signature).toEqual({ status: 'signed', by: 'the local key pair (.auren/signing/cosign.pub)' });
    // The bundle and the legacy `.sig` signature: one `cosign sign` each.
    expect(await calls.read()).toEqual(['generate-key-pair', 'sign', 'sign']);
    const made = normalizeOptions({ registry: registry.host, signing: { publicKey: join(fresh, '.auren/signing/cosign.pub') } }, {}).signing;
    const verified = await verifyImage({ reference: ref('unsigned-fresh', unsigned.digest), registry: registry.host, insecureRegistries: [], signing: made, workspaceRoot: fresh, credentials: undefined, env });
    expect(verified.status).toBe('verified');
  });

  it('each bundle names the key that signed it (its key hint): the hint cosign wrote, the same for every bundle one key signed', async () => {
    const ours = publicKeyHint(config.signing, work);
    expect(ours).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const bundles = await attachedBundles(client, 'auren/auren-api', pushed['auren-api'].digest, { keyHints: true });
    expect(bundles.map((b) => b.predicateType)).toEqual(expect.arrayContaining([COSIGN_SIGN_PREDICATE, SLSA_PROVENANCE_V1]));
    expect(bundles.every((b) => b.keyHint === ours)).toBe(true);
  });

  it('a registry that forges a bundle\'s key hint to name our key gains nothing: cosign is asked, refuses the other key\'s signature, and the digest we built is signed with ours', async () => {
    const other = await mkdtemp(join(work, 'forger-'));
    await exec('cosign', ['generate-key-pair'], { cwd: other, env });
    const forger = normalizeOptions({ registry: registry.host, signing: { key: join(other, 'cosign.key'), publicKey: join(other, 'cosign.pub') } }, {}).signing;
    const layout = await writeDebianLayout(['base-files'], { 'app/forged.txt': 'forged\n' });
    layouts.push(layout);
    await push('forged', layout);
    const repository = 'auren/forged';
    const reference = ref('forged', layout.digest);
    await signImage({ reference, registry: registry.host, insecureRegistries: [], signing: forger, workspaceRoot: other, credentials: undefined, env });
    // Rewrite the forger's bundle with our key's hint, in place of the original.
    const [original] = (await listReferrers(client, repository, layout.digest)).filter((d) => d.artifactType === SIGSTORE_BUNDLE);
    const manifest = await client.manifestGet(repository, original.digest);
    if (manifest === 'not-found') throw new Error('the forger\'s bundle is gone');
    const layer = (JSON.parse(manifest.body.toString('utf8')) as { layers: Array<{ digest: string }> }).layers[0];
    const chunks: Buffer[] = [];
    for await (const chunk of await client.blobGet(repository, layer.digest)) chunks.push(chunk as Buffer);
    const bundle = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    bundle.verificationMaterial = { publicKey: { hint: publicKeyHint(config.signing, work) } };
    const head = await client.manifestHead(repository, layout.digest);
    if (head === 'not-found') throw new Error('the forged image is gone');
    await attachArtifact(client, {
      repository,
      subject: { mediaType: head.mediaType, digest: head.digest, size: head.size },
      artifactType: SIGSTORE_BUNDLE,
      files: [{ mediaType: SIGSTORE_BUNDLE, data: Buffer.from(JSON.stringify(bundle)) }],
      annotations: { 'dev.sigstore.bundle.content': 'message-signature', 'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE },
    });
    await updateFallbackIndex(client, repository, layout.digest, { remove: [original.digest] });
    expect((await attachedBundles(client, repository, layout.digest, { keyHints: true })).map((b) => b.keyHint)).toEqual([publicKeyHint(config.signing, work)]);
    expect((await cosignVerify(reference)).exitCode).not.toBe(0);

    const calls = await cosignWatch();
    const outcome = await publishSupplyChain({
      client, config, workspaceRoot: work, repository, digest: layout.digest, sbomFile: join(other, 'none.json'),
      provenance: await provenanceOf('forged', layout), credentials: undefined, env: calls.env, log: () => undefined, warn: () => undefined,
    });
    expect(await calls.read()).toEqual(expect.arrayContaining(['verify', 'sign']));
    expect(outcome.signature).toMatchObject({ status: 'signed' });
    expect((await cosignVerify(reference)).exitCode).toBe(0);
  });
});
