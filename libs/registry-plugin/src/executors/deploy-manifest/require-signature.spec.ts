// @auren-test-tools cosign (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { parse as parseYaml } from 'yaml';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { normalizeOptions } from '../../lib/config/options';
import { exec, which } from '../../lib/exec/exec';
import { createRegistryClient } from '../../lib/registry/client';
import { executePush, planPush } from '../../lib/registry/push';
import { writeTestLayout, type TestLayout } from '../../lib/registry/layout.testing';
import { signImage } from '../../lib/supply-chain/sign';
import executor from './executor';

/** deploy-manifest --requireSignature with the real cosign and registry: it pins what verifies, and refuses the rest. */

const APPS = ['auren-api', 'biometric-bridge', 'auren-nginx'];
const PASSWORD = 'deploy-gate-password';

describe('deploy-manifest --requireSignature', () => {
  let registry: TestRegistry;
  let root: string;
  const layouts: TestLayout[] = [];
  const digests: Record<string, string> = {};
  const env = { ...process.env, COSIGN_PASSWORD: PASSWORD };
  let errors: string[];
  let infos: string[];

  const signing = () => ({ key: join(root, 'keys/cosign.key'), publicKey: 'keys/cosign.pub' });
  const context = (plugin: Record<string, unknown> = { registry: registry.host, signing: signing() }): ExecutorContext =>
    ({
      root,
      cwd: root,
      isVerbose: false,
      projectName: 'registry',
      projectsConfigurations: { version: 2, projects: Object.fromEntries([['registry', { root: 'tools/registry' }], ...APPS.map((a) => [a, { root: `apps/${a}` }])]) },
      nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: plugin }] },
    }) as unknown as ExecutorContext;

  const writeRecord = (app: string, verdict: string) => {
    mkdirSync(join(root, 'dist/images', app), { recursive: true });
    writeFileSync(
      join(root, 'dist/images', app, 'push.json'),
      JSON.stringify({
        schemaVersion: 1, project: app, registry: registry.host, repository: `auren/${app}`, digest: digests[app], tags: ['1.0.0'], version: '1.0.0',
        size: 1, platforms: ['linux/amd64'], scan: { verdict }, git: { sha: 'abc', branch: 'main' },
        blobs: { uploaded: 1, skipped: 0, mounted: 0, bytesUploaded: 1 }, pushedAt: '2026-01-02T03:04:05.000Z', dryRun: false,
      }),
    );
  };
  const sign = (app: string) =>
    signImage({
      reference: `${registry.host}/auren/${app}@${digests[app]}`, registry: registry.host, insecureRegistries: [],
      signing: normalizeOptions({ registry: registry.host, signing: signing() }, {}).signing, workspaceRoot: root, credentials: undefined, env,
    });
  const output = () => join(root, 'dist/deploy/docker-compose.override.yml');

  beforeAll(async () => {
    if (!(await which('cosign'))) throw new Error('cosign is not on PATH (tools/.bin): this test needs the real one');
    registry = await startTestRegistry();
    root = await mkdtemp(join(tmpdir(), 'auren-deploy-gate-'));
    mkdirSync(join(root, 'keys'));
    await exec('cosign', ['generate-key-pair'], { cwd: join(root, 'keys'), env });
    writeFileSync(join(root, 'docker-compose.prod.yml'), `services:\n${APPS.map((a) => `  ${a}:\n    image: ${a}:latest\n`).join('')}  redis:\n    image: redis:7\n`);
    const client = createRegistryClient({ registry: registry.host });
    for (const app of APPS) {
      const layout = await writeTestLayout({ platforms: ['linux/amd64'] });
      layouts.push(layout);
      await executePush(client, await planPush(client, layout.layout, { repository: `auren/${app}`, tags: ['1.0.0'] }));
      digests[app] = layout.digest;
    }
    // auren-nginx stays unsigned until the last test.
    await sign('auren-api');
    await sign('biometric-bridge');
  }, 180_000);

  afterAll(async () => {
    await registry?.stop();
    if (root) await rm(root, { recursive: true, force: true });
    await Promise.all(layouts.map((l) => rm(l.dir, { recursive: true, force: true })));
  });

  beforeEach(async () => {
    errors = [];
    infos = [];
    process.exitCode = 0;
    jest.spyOn(console, 'info').mockImplementation((...a) => void infos.push(a.join(' ')));
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    jest.spyOn(console, 'error').mockImplementation((...a) => void errors.push(a.join(' ')));
    for (const app of APPS) writeRecord(app, 'pass');
    await rm(output(), { force: true });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = 0;
  });

  it('refuses an unsigned digest with a clear message and writes nothing', async () => {
    await expect(executor({ requireSignature: true }, context(), env)).resolves.toEqual({ success: false });
    const message = errors.join('\n');
    expect(message).toContain('requireSignature: refusing to pin 1 image(s); nothing was written');
    expect(message).toContain(`auren-nginx (${registry.host}/auren/auren-nginx@${digests['auren-nginx']}): cosign verify refused it`);
    expect(message).not.toMatch(/auren-api \(/);
    expect(message).toContain('signing.key');
    expect(process.exitCode).toBe(3);
    expect(existsSync(output())).toBe(false);
  });

  it('refuses a digest whose scan verdict is blocked, or that was never scanned, even when signed', async () => {
    writeRecord('biometric-bridge', 'blocked');
    writeRecord('auren-api', 'not-scanned');
    await expect(executor({ requireSignature: true, services: 'auren-api,biometric-bridge' }, context(), env)).resolves.toEqual({ success: false });
    const message = errors.join('\n');
    expect(message).toContain('biometric-bridge');
    expect(message).toContain('its scan verdict is "blocked"');
    expect(message).toContain('auren-api');
    expect(message).toContain('pushed without a vulnerability scan');
    expect(existsSync(output())).toBe(false);
  });

  it('without a public key configured: a config error before any registry call', async () => {
    await expect(executor({ requireSignature: true }, context({ registry: registry.host }), env)).resolves.toEqual({ success: false });
    expect(errors.join('\n')).toContain('signature checks need signing.publicKey');
    expect(process.exitCode).toBe(2);
  });

  it('without requireSignature, pins unsigned digests as before', async () => {
    await expect(executor({}, context(), env)).resolves.toEqual({ success: true });
    expect(Object.keys((parseYaml(readFileSync(output(), 'utf8')) as { services: object }).services)).toEqual(APPS);
  });

  it('accepts the signed ones: once every digest verifies, the override pins all three', async () => {
    await expect(executor({ requireSignature: true, services: 'auren-api,biometric-bridge' }, context(), env)).resolves.toEqual({ success: true });
    expect(infos.join('\n')).toContain('2 signature(s) verified');
    await sign('auren-nginx');
    await expect(executor({ requireSignature: true }, context(), env)).resolves.toEqual({ success: true });
    const pinned = (parseYaml(readFileSync(output(), 'utf8')) as { services: Record<string, { image: string }> }).services;
    expect(pinned).toEqual(Object.fromEntries(APPS.map((a) => [a, { image: `${registry.host}/auren/${a}@${digests[a]}` }])));
  });
});
