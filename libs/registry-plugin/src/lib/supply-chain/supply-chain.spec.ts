// @auren-test-tools trivy oras cosign (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestRegistry } from '../../testing/registry-server';
import { normalizeOptions, type AurenConfig } from '../config/options';
import { exec, which } from '../exec/exec';
import { executePush, planPush } from '../registry/push';
import { runMonitor } from '../monitor/collect';
import { normalizeMonitorOptions } from '../monitor/options';
import { writeDebianLayout, type DebianLayout } from './debian-layout.testing';
import { publishSupplyChain } from './publish';
import { listReferrers } from './referrers';
import { CYCLONEDX_MEDIA_TYPE, generateSbom, SBOM_FILE } from './sbom';
import { signImage } from './sign';
import { verifyImage } from './verify';

/**
 * Issue 14, acceptance 1 and 2, with the real tools: trivy makes the SBOM, our client pushes and
 * attaches it, cosign signs; the real `cosign verify` and `oras discover`/`oras pull` judge.
 */

const PASSWORD = 'correct horse battery staple';
const SIGSTORE_BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

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
      const layout = await writeDebianLayout(packages, { 'app/main.py': `print("${app}")\n` });
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
        credentials: undefined,
        env,
        log: () => undefined,
        warn: (line) => {
          throw new Error(line);
        },
      });
      expect(outcome).toMatchObject({ sbom: { status: 'attached' }, signature: { status: 'signed' } });
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

  it.each(Object.keys(APPS))('oras discover lists the CycloneDX SBOM (and the cosign bundle) of %s; the SBOM names its dpkg packages', async (app) => {
    const { digest, layout } = pushed[app];
    const discovered = JSON.parse((await exec('oras', ['discover', '--plain-http', '--format', 'json', ref(app, digest)])).stdout) as {
      referrers?: Array<{ digest: string; artifactType: string }>;
      manifests?: Array<{ digest: string; artifactType: string }>;
    };
    const referrers = discovered.referrers ?? discovered.manifests ?? [];
    const types = referrers.map((r) => r.artifactType).sort();
    expect(types).toEqual([CYCLONEDX_MEDIA_TYPE, SIGSTORE_BUNDLE].sort());

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

  it('publishing again (a fresh SBOM from another scan) changes nothing: one SBOM and one signature per digest', async () => {
    const app = 'biometric-bridge';
    const before = await listReferrers(client, `auren/${app}`, pushed[app].digest);
    const scanDir = await mkdtemp(join(work, 'again-'));
    await generateSbom({ layoutDir: pushed[app].layout.dir, digest: pushed[app].digest, outputFile: join(scanDir, SBOM_FILE), env });
    const outcome = await publishSupplyChain({
      client, config, workspaceRoot: work, repository: `auren/${app}`, digest: pushed[app].digest, sbomFile: join(scanDir, SBOM_FILE),
      credentials: undefined, env, log: () => undefined, warn: () => undefined,
    });
    expect(outcome).toMatchObject({ sbom: { status: 'already-attached' }, signature: { status: 'already-signed' } });
    expect(await listReferrers(client, `auren/${app}`, pushed[app].digest)).toEqual(before);
  });

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
});
