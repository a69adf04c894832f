// @auren-test-tools trivy oras cosign (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server';
import { exec, which } from '../../lib/exec/exec';
import { createRegistryClient } from '../../lib/registry/client';
import { writeDebianLayout, type DebianLayout } from '../../lib/supply-chain/debian-layout.testing';
import { generateSbom, SBOM_FILE } from '../../lib/supply-chain/sbom';
import dockerPushExecutor from './executor';

/**
 * docker-push with `signing` configured, through the executor: the pushed digest gets the scan's
 * SBOM attached and a cosign signature that the real `cosign verify` accepts; a signing key that
 * does not exist fails the push before anything is sent.
 */

const PASSWORD = 'push-signing-password';

describe('docker-push attaches the SBOM and signs the pushed digest', () => {
  let registry: TestRegistry;
  let root: string;
  let layout: DebianLayout;
  const saved = { COSIGN_PASSWORD: process.env.COSIGN_PASSWORD, AUREN_BRANCH: process.env.AUREN_BRANCH };

  const context = (signing: Record<string, string>): ExecutorContext =>
    ({
      root,
      cwd: root,
      isVerbose: false,
      projectName: 'app',
      projectsConfigurations: { version: 2, projects: { app: { root: 'apps/app' } } },
      nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: { registry: registry.host, namespace: 'auren', signing } }] },
    }) as unknown as ExecutorContext;

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
});
