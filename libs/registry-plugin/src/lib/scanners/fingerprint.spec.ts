import { chmod, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { exec } from '../exec/exec';
import { createRegistryClient } from '../registry/client';
import { tarOf } from '../registry/layout.testing';
import { freePort, startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { expiredAcceptances, scannerFingerprint } from './fingerprint';
import { publishTrivyDb } from './trivy-db';
import { parseVexDocument } from './vex';

const WORKSPACE = resolve(__dirname, '../../../../..');
const STANDINS = join(WORKSPACE, 'tools/scanner-standins');
const NODE_DIR = dirname(process.execPath);
const scratch: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'auren-fingerprint-'));
  scratch.push(dir);
  return dir;
};
/** Each case a machine of its own: its own tool-identity cache (NX_CACHE_DIRECTORY) and Trivy cache. */
const withStandins = async (extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> => {
  const dir = await tempDir();
  return { ...process.env, PATH: `${STANDINS}${delimiter}${NODE_DIR}`, NX_CACHE_DIRECTORY: join(dir, 'nx'), TRIVY_CACHE_DIR: join(dir, 'trivy'), ...extra };
};

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('scannerFingerprint', () => {
  it.each([
    ['trivy', {}, 'scanner=trivy version=0.56.2 db=2@2024-11-27T06:11:44.446960377Z'],
    ['trivy', { AUREN_STANDIN_DB_VERSION: '2025-01-02T00:00:00Z' }, 'scanner=trivy version=0.56.2 db=2@2025-01-02T00:00:00Z'],
    ['grype', {}, 'scanner=grype version=0.86.1 db=v6.0.2@2024-11-27T01:31:35Z'],
    ['grype', { AUREN_STANDIN_DB_VERSION: '2025-01-02T00:00:00Z' }, 'scanner=grype version=0.86.1 db=v6.0.2@2025-01-02T00:00:00Z'],
  ] as const)('names %s, its version and its database (%j)', async (scanner, extra, expected) => {
    expect(await scannerFingerprint({ scanner }, await withStandins(extra))).toBe(expected);
  });

  it('says "none" when the scanner is not installed', async () => {
    expect(await scannerFingerprint({ scanner: 'trivy' }, { ...process.env, PATH: NODE_DIR })).toBe('scanner=trivy version=none db=none');
  });

  it('asks the scanner once per machine while its binary and database files are unchanged', async () => {
    // A trivy that counts how often it is asked (a stand-in: the real one cannot count).
    const dir = await tempDir();
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const calls = join(dir, 'calls');
    const trivy = join(bin, 'trivy');
    await writeFile(trivy, `#!/bin/sh\necho "$1" >> ${JSON.stringify(calls)}\nexec ${JSON.stringify(join(STANDINS, 'trivy'))} "$@"\n`);
    await chmod(trivy, 0o755);
    const env: NodeJS.ProcessEnv = { ...(await withStandins()), PATH: `${bin}${delimiter}${NODE_DIR}` };
    const asked = async () => (await readFile(calls, 'utf8').catch(() => '')).split('\n').filter((l) => l === 'version').length;

    const first = await scannerFingerprint({ scanner: 'trivy' }, env);
    expect(await scannerFingerprint({ scanner: 'trivy' }, env)).toBe(first);
    expect(await asked()).toBe(1);

    // A new build of the binary (another modification time): asked again.
    await utimes(trivy, new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
    await scannerFingerprint({ scanner: 'trivy' }, env);
    expect(await asked()).toBe(2);

    // A database downloaded into its cache: asked again, then kept.
    await mkdir(join(env.TRIVY_CACHE_DIR as string, 'db'), { recursive: true });
    await writeFile(join(env.TRIVY_CACHE_DIR as string, 'db', 'metadata.json'), '{"Version":2,"UpdatedAt":"2026-12-04T00:00:00Z"}');
    await scannerFingerprint({ scanner: 'trivy' }, env);
    await scannerFingerprint({ scanner: 'trivy' }, env);
    expect(await asked()).toBe(3);
  });

  it('prints from the CLI entry the lead wires as an Nx runtime input', async () => {
    const cli = join(__dirname, 'fingerprint-cli.ts');
    const env = { ...(await withStandins()), AUREN_SCANNER: '' };
    const run = (args: string[], vars: NodeJS.ProcessEnv = {}) => exec(process.execPath, ['-r', '@swc-node/register', cli, ...args], { cwd: WORKSPACE, env: { ...env, ...vars } });
    expect((await run(['--scanner', 'grype'])).stdout).toBe('scanner=grype version=0.86.1 db=v6.0.2@2024-11-27T01:31:35Z\n');
    // Without --scanner the policy comes from nx.json (trivy there and by default).
    expect((await run([])).stdout).toMatch(/^scanner=(trivy|grype) version=\S+ db=\S+\n$/);
    // The one precedence rule, as the scan applies it: the variable over the flag; blank variables are unset.
    expect((await run(['--scanner', 'trivy'], { AUREN_SCANNER: 'grype' })).stdout).toMatch(/^scanner=grype /);
    expect((await run(['--scanner', 'grype'], { AUREN_SCANNER: ' ', AUREN_REGISTRY: ' ' })).stdout).toMatch(/^scanner=grype /);
  });
});

describe('the fingerprint entry Nx runs, in a workspace whose registry serves a database', () => {
  let registry: TestRegistry;
  afterAll(async () => {
    await registry?.stop();
  });

  /** `node libs/registry-plugin/bin/scanner-fingerprint.js`, as the scan target's runtime input runs it, in `root`. */
  const fingerprint = async (root: string, env: NodeJS.ProcessEnv) => {
    const result = await exec(process.execPath, [join(WORKSPACE, 'libs/registry-plugin/bin/scanner-fingerprint.js')], { cwd: root, env });
    return `${result.stdout}${result.stderr}`;
  };
  const publish = async (updatedAt: string) => {
    const layer = gzipSync(await tarOf({ 'metadata.json': JSON.stringify({ Version: 2, UpdatedAt: updatedAt }), 'trivy.db': '' }));
    return (await publishTrivyDb(createRegistryClient({ registry: registry.host }), 'auren/trivy-db', { layer, updatedAt, advisories: 0 })).digest;
  };
  const workspace = async (host: string) => {
    const root = await tempDir();
    await writeFile(join(root, 'nx.json'), JSON.stringify({ plugins: [{ plugin: '@auren/registry-plugin', options: { registry: host, namespace: 'auren', scan: { scanner: 'trivy' } } }] }));
    return root;
  };

  it('names the served database by digest, a newly published one by its own, and trivy\'s own when the registry is down', async () => {
    registry = await startTestRegistry();
    const env = { ...(await withStandins()), AUREN_SCANNER: '', AUREN_REGISTRY: '', AUREN_TRACE: '1' };
    const root = await workspace(registry.host);
    const first = await publish('2026-12-04T00:00:00Z');
    const served = await fingerprint(root, env);
    // Nx hashes stdout and stderr: nothing but the line, AUREN_TRACE or not.
    expect(served).toBe(`scanner=trivy version=0.56.2 db=${registry.host}/auren/trivy-db@${first}(2026-12-04T00:00:00Z)\n`);
    expect(await fingerprint(root, env)).toBe(served);

    const second = await publish('2026-12-05T00:00:00Z');
    expect(second).not.toBe(first);
    expect(await fingerprint(root, env)).toBe(`scanner=trivy version=0.56.2 db=${registry.host}/auren/trivy-db@${second}(2026-12-05T00:00:00Z)\n`);

    // Down: the database trivy has itself, which the scan then uses.
    expect(await fingerprint(await workspace(`127.0.0.1:${await freePort()}`), env)).toBe('scanner=trivy version=0.56.2 db=2@2024-11-27T06:11:44.446960377Z\n');
  }, 60_000);
});

describe('expiredAcceptances', () => {
  const vex = (timestamp: string) =>
    parseVexDocument(
      JSON.stringify({
        '@context': 'https://openvex.dev/ns/v0.2.0',
        '@id': 'https://example.test/vex/1',
        author: 'a',
        timestamp,
        statements: [{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:deb/debian/gzip' }], status: 'not_affected', justification: 'vulnerable_code_not_present' }],
      }),
      'vex.json',
      new Date('2026-12-01T00:00:00Z'),
    );

  it('counts ignore rules and OpenVEX statements past their day, so the scan key changes on that day', () => {
    const ignore = [{ id: 'CVE-1', expires: '2026-12-01' }, { id: 'CVE-2' }];
    const docs = [vex('2026-06-04T00:00:00Z')]; // in force through 2026-12-01 (180 days)
    expect(expiredAcceptances(ignore, docs, new Date('2026-12-01T23:59:59Z'))).toBe(0);
    expect(expiredAcceptances(ignore, docs, new Date('2026-12-02T00:00:00Z'))).toBe(2);
  });
});
