// @auren-test-tools trivy oras cosign (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { existsSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { exec, which } from '../../lib/exec/exec';
import { createRegistryClient } from '../../lib/registry/client';
import { writeDebianLayout, type DebianLayout } from '../../lib/supply-chain/debian-layout.testing';
import { generateSbom, SBOM_FILE } from '../../lib/supply-chain/sbom';
import { noLayerCache } from '../../lib/layer-cache/layer-cache';
import { packageLocks } from '../../lib/supply-chain/provenance';
import { readPushRecord, writeBuildProvenance } from '../../lib/reports/records';
import deployManifestExecutor from '../deploy-manifest/executor';
import dockerPushExecutor from './executor';

/**
 * docker-push through the executor: the pushed digest gets the scan's SBOM attached, a cosign
 * signature that the real `cosign verify` accepts and, for an image built here, SLSA provenance
 * that `cosign verify-attestation` accepts. With `signing` configured it uses that key; with
 * nothing configured and the embedded (loopback) registry it makes and uses the local key pair,
 * which deploy-manifest then verifies with no configuration; `signing: false` signs nothing.
 * A signing key that does not exist fails the push before anything is sent.
 */

const PASSWORD = 'push-signing-password';

describe('docker-push attaches the SBOM and signs the pushed digest', () => {
  let registry: TestRegistry;
  let root: string;
  let layout: DebianLayout;
  const saved = { COSIGN_PASSWORD: process.env.COSIGN_PASSWORD, AUREN_BRANCH: process.env.AUREN_BRANCH };

  const context = (signing: Record<string, string> | false | undefined, project = 'app'): ExecutorContext =>
    ({
      root,
      cwd: root,
      isVerbose: false,
      projectName: project,
      projectsConfigurations: { version: 2, projects: { [project]: { root: `apps/${project}` } } },
      nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: { registry: registry.host, namespace: 'auren', ...(signing === undefined ? {} : { signing }) } }] },
    }) as unknown as ExecutorContext;
  const layouts: DebianLayout[] = [];

  /** What docker-build and scan leave in dist/images/<project>: the layout, image.json, a passing scan, the SBOM. */
  async function builtImage(project: string, image: DebianLayout, provenance: boolean): Promise<void> {
    const dir = join(root, 'dist/images', project);
    await cp(image.dir, join(dir, 'oci'), { recursive: true });
    await writeFile(
      join(dir, 'image.json'),
      JSON.stringify({ schemaVersion: 1, project, digest: image.digest, mediaType: image.layout.mediaType, platforms: ['linux/amd64'], size: image.layout.size, labels: {}, builder: { name: 'test', version: '0' }, createdAt: '2026-01-01T00:00:00Z' }),
    );
    await mkdir(join(dir, 'scan'), { recursive: true });
    await writeFile(join(dir, 'scan/report.json'), JSON.stringify({ verdict: 'pass', image: { digest: image.digest }, vulnerabilityScan: { status: 'not-scanned', reason: 'test' }, gate: { counts: {} } }));
    const sbom = await generateSbom({ layoutDir: join(dir, 'oci'), digest: image.digest, outputFile: join(dir, 'scan', SBOM_FILE) });
    expect(sbom.status).toBe('generated');
    if (!provenance) return;
    await writeBuildProvenance(dir, {
      schemaVersion: 1, project, digest: image.digest,
      externalParameters: { dockerfile: `apps/${project}/Dockerfile`, context: `apps/${project}`, platforms: ['linux/amd64'], buildArgs: {} },
      source: { uri: `git+file://${root}`, commit: (await exec('git', ['rev-parse', 'HEAD'], { cwd: root })).stdout.trim(), ref: 'refs/heads/main', dirty: false },
      packageLocks: await packageLocks(image.layout, noLayerCache()),
      builder: { name: 'buildah', version: '1.28.2' }, runner: { id: 'https://auren.dev/registry-plugin/builder/local' },
      startedOn: '2026-01-02T03:04:05.000Z', finishedOn: '2026-01-02T03:05:06.000Z',
    });
  }
  const discover = async (ref: string) => {
    const out = JSON.parse((await exec('oras', ['discover', '--plain-http', '--format', 'json', ref])).stdout);
    return ((out.referrers ?? out.manifests) as Array<{ artifactType: string }>).map((r) => r.artifactType).sort();
  };

  beforeAll(async () => {
    for (const tool of ['cosign', 'trivy', 'oras']) if (!(await which(tool))) throw new Error(`${tool} is not on PATH (tools/.bin)`);
    registry = await startTestRegistry();
    root = await mkdtemp(join(tmpdir(), 'auren-push-signed-'));
    await exec('git', ['init', '-q', '-b', 'main'], { cwd: root });
    await writeFile(join(root, 'README.md'), 'app\n');
    await exec('git', ['add', '.'], { cwd: root });
    await exec('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'feat: app'], { cwd: root });
    process.env.COSIGN_PASSWORD = PASSWORD;
    process.env.AUREN_BRANCH = 'main';
    await mkdir(join(root, 'keys'));
    await exec('cosign', ['generate-key-pair'], { cwd: join(root, 'keys') });

    layout = await writeDebianLayout(['base-files', 'bash']);
    const dir = join(root, 'dist/images/app');
    await cp(layout.dir, join(dir, 'oci'), { recursive: true });
    await writeFile(
      join(dir, 'image.json'),
      JSON.stringify({ schemaVersion: 1, project: 'app', digest: layout.digest, mediaType: layout.layout.mediaType, platforms: ['linux/amd64'], size: layout.layout.size, labels: {}, builder: { name: 'test', version: '0' }, createdAt: '2026-01-01T00:00:00Z' }),
    );
    // What the scan target leaves behind: its report (a passing verdict for this digest) and the SBOM.
    await mkdir(join(dir, 'scan'), { recursive: true });
    await writeFile(join(dir, 'scan/report.json'), JSON.stringify({ verdict: 'pass', image: { digest: layout.digest }, vulnerabilityScan: { status: 'not-scanned', reason: 'test' }, gate: { counts: {} } }));
    const sbom = await generateSbom({ layoutDir: join(dir, 'oci'), digest: layout.digest, outputFile: join(dir, 'scan', SBOM_FILE) });
    expect(sbom.status).toBe('generated');
  }, 120_000);

  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    await registry?.stop();
    if (root) await rm(root, { recursive: true, force: true });
    if (layout) await rm(layout.dir, { recursive: true, force: true });
    await Promise.all(layouts.map((l) => rm(l.dir, { recursive: true, force: true })));
  });

  beforeEach(() => {
    process.exitCode = 0;
    jest.spyOn(console, 'info').mockImplementation(() => undefined);
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = 0;
  });

  it('a signing key that does not exist fails the push before anything is sent', async () => {
    const errors: string[] = [];
    jest.spyOn(console, 'error').mockImplementation((...a) => void errors.push(a.join(' ')));
    await expect(dockerPushExecutor({ versioned: false, tags: '1.0.0' }, context({ key: 'keys/missing.key', publicKey: 'keys/cosign.pub' }))).resolves.toEqual({ success: false });
    expect(errors.join('\n')).toContain('signing.key names keys/missing.key, which does not exist');
    expect(await createRegistryClient({ registry: registry.host }).tagList('auren/app')).toEqual([]);
  });

  it('pushes, attaches the SBOM and signs; cosign verify and oras discover agree', async () => {
    const infos: string[] = [];
    jest.spyOn(console, 'info').mockImplementation((...a) => void infos.push(a.join(' ')));
    await expect(dockerPushExecutor({ versioned: false, tags: '1.0.0' }, context({ key: 'keys/cosign.key', publicKey: 'keys/cosign.pub' }))).resolves.toEqual({ success: true });
    const ref = `${registry.host}/auren/app@${layout.digest}`;
    expect(infos.join('\n')).toMatch(/SBOM \(CycloneDX [\d.]+, \d+ components, 2 Debian packages\) attached as sha256:/);
    expect(infos.join('\n')).toContain(`signature: signed ${ref}`);
    expect(infos.join('\n')).not.toContain(PASSWORD);

    const verified = await exec('cosign', ['verify', '--key', join(root, 'keys/cosign.pub'), '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', ref]);
    expect(verified.exitCode).toBe(0);
    const discovered = JSON.parse((await exec('oras', ['discover', '--plain-http', '--format', 'json', ref])).stdout);
    expect((discovered.referrers ?? discovered.manifests).map((r: { artifactType: string }) => r.artifactType).sort()).toEqual(
      ['application/vnd.cyclonedx+json', 'application/vnd.dev.sigstore.bundle.v0.3+json'],
    );

    // Pushing again changes nothing: no second SBOM, no second signature.
    await expect(dockerPushExecutor({ versioned: false, tags: '1.0.0' }, context({ key: 'keys/cosign.key', publicKey: 'keys/cosign.pub' }))).resolves.toEqual({ success: true });
    const again = JSON.parse((await exec('oras', ['discover', '--plain-http', '--format', 'json', ref])).stdout);
    expect((again.referrers ?? again.manifests)).toHaveLength(2);
  });
  it('with nothing configured, against the embedded registry: makes the local key pair, signs and attests; deploy-manifest verifies both with no configuration', async () => {
    const image = await writeDebianLayout(['base-files', 'dash'], { 'usr/share/auren/packages.lock': 'base-files=12\ndash=0.5\n' });
    layouts.push(image);
    await builtImage('local', image, true);
    const infos: string[] = [];
    const warnings: string[] = [];
    jest.spyOn(console, 'info').mockImplementation((...a) => void infos.push(a.join(' ')));
    jest.spyOn(console, 'warn').mockImplementation((...a) => void warnings.push(a.join(' ')));
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const env = { COSIGN_PASSWORD: process.env.COSIGN_PASSWORD };
    delete process.env.COSIGN_PASSWORD;
    try {
      await expect(dockerPushExecutor({ versioned: false, tags: '1.0.0' }, context(undefined, 'local'))).resolves.toEqual({ success: true });
    } finally {
      process.env.COSIGN_PASSWORD = env.COSIGN_PASSWORD;
    }
    const ref = `${registry.host}/auren/local@${image.digest}`;
    const signingDir = join(root, '.auren/signing');
    expect(infos.join('\n')).toContain('made the local signing key pair in .auren/signing/');
    expect(infos.join('\n')).toContain(`signature: signed ${ref} with cosign (the local key pair (.auren/signing/cosign.pub))`);
    expect(infos.join('\n')).toContain(`provenance: SLSA v1 provenance of ${ref} attested`);
    expect(warnings).toEqual([]);
    expect(statSync(signingDir).mode & 0o777).toBe(0o700);
    const password = (await readFile(join(signingDir, 'cosign.password'), 'utf8')).trim();
    expect([...infos, ...warnings].join('\n')).not.toContain(password);

    // The real tools agree, with the public key that push made.
    const flags = ['--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry'];
    expect((await exec('cosign', ['verify', '--key', join(signingDir, 'cosign.pub'), ...flags, ref])).exitCode).toBe(0);
    expect((await exec('cosign', ['verify-attestation', '--type', 'slsaprovenance1', '--key', join(signingDir, 'cosign.pub'), ...flags, ref])).exitCode).toBe(0);
    expect(await discover(ref)).toEqual(['application/vnd.cyclonedx+json', 'application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle.v0.3+json']);
    expect(readPushRecord(join(root, 'dist/images/local'))?.supplyChain).toMatchObject({
      sbom: { status: 'attached' }, signature: { status: 'signed' }, provenance: { status: 'attested' },
    });

    // deploy-manifest finds the local public key by itself, for the signature and the provenance.
    await writeFile(join(root, 'docker-compose.prod.yml'), 'services:\n  local:\n    image: local:latest\n');
    const gate = (options: Record<string, unknown>) => deployManifestExecutor(options, context(undefined, 'local'), { ...process.env, COSIGN_PASSWORD: undefined });
    await expect(gate({ requireSignature: true, requireProvenance: true, sourceRepository: `file://${root}`, builderId: 'https://auren.dev/registry-plugin/builder/local' })).resolves.toEqual({ success: true });
    expect(infos.join('\n')).toContain('1 SLSA provenance attestation(s) verified with');
    await expect(gate({ requireProvenance: true, sourceRepository: 'github.com/someone/else' })).resolves.toEqual({ success: false });

    // A second push of the same digest makes nothing new: same key pair, no second signature or provenance.
    const key = await readFile(join(signingDir, 'cosign.pub'), 'utf8');
    await expect(dockerPushExecutor({ versioned: false, tags: '1.0.0' }, context(undefined, 'local'))).resolves.toEqual({ success: true });
    expect(await readFile(join(signingDir, 'cosign.pub'), 'utf8')).toBe(key);
    expect(await discover(ref)).toHaveLength(3);
  }, 180_000);

  it('signing: false pushes and attaches the SBOM, and signs nothing (no key pair made)', async () => {
    const image = await writeDebianLayout(['base-files']);
    layouts.push(image);
    await builtImage('plain', image, true);
    await rm(join(root, '.auren'), { recursive: true, force: true });
    await expect(dockerPushExecutor({ versioned: false, tags: '1.0.0' }, context(false, 'plain'))).resolves.toEqual({ success: true });
    const ref = `${registry.host}/auren/plain@${image.digest}`;
    expect(await discover(ref)).toEqual(['application/vnd.cyclonedx+json']);
    expect(existsSync(join(root, '.auren/signing'))).toBe(false);
    expect(readPushRecord(join(root, 'dist/images/plain'))?.supplyChain).toMatchObject({ signature: { status: 'off' }, provenance: { status: 'off' } });
  }, 120_000);
});
