import { copyFile, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch } from 'undici';
import { AurenError } from '../../errors/errors';
import { exec } from '../../exec/exec';
import { useTestRegistry } from '../../../testing/registry-server.testing';
import { createTestPki, type TestPki } from '../../../testing/tls-certs.testing';
import { builderTlsArgs, certsDirRoots, createDispatcher, explainTlsError, loadRegistryTrust } from './trust';

let root: string;
let pki: TestPki;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'auren-tls-spec-'));
  pki = await createTestPki();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(pki.dir, { recursive: true, force: true });
});

let n = 0;
/** A certs.d root with `<registry>/` holding the given files (name → source path). */
async function certsRoot(registry: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, `certs-${n++}`);
  await mkdir(join(dir, registry), { recursive: true });
  for (const [name, source] of Object.entries(files)) await copyFile(source, join(dir, registry, name));
  return dir;
}
const noEnv: NodeJS.ProcessEnv = { HOME: '/nonexistent' };

describe('certs.d discovery', () => {
  it('lists the conventional roots', () => {
    expect(certsDirRoots({ HOME: '/home/u' })).toEqual([
      '/home/u/.config/containers/certs.d',
      '/home/u/.config/docker/certs.d',
      '/home/u/.docker/certs.d',
      '/home/u/certs.d',
      '/etc/containers/certs.d',
      '/etc/docker/certs.d',
    ]);
    expect(certsDirRoots({ HOME: '/h', XDG_CONFIG_HOME: '/x', DOCKER_CONFIG: '/cfg/docker' })).toEqual([
      '/x/containers/certs.d',
      '/x/docker/certs.d',
      '/cfg/docker/certs.d',
      '/cfg/certs.d',
      '/etc/containers/certs.d',
      '/etc/docker/certs.d',
    ]);
  });

  it('collects *.crt CAs and the client pair for host:port, plus caFile', async () => {
    const a = await certsRoot('reg.example.com:5000', { 'ca.crt': pki.caCert, 'client.cert': pki.clientCert, 'client.key': pki.clientKey });
    const b = await certsRoot('reg.example.com:5000', { 'other.crt': pki.serverCert });
    const other = await certsRoot('elsewhere:5000', { 'ca.crt': pki.caCert });
    const trust = loadRegistryTrust({ registry: 'reg.example.com:5000', certsDirs: [a, b, other], caFile: pki.caCert, env: noEnv });
    expect(trust.caFiles).toEqual([join(a, 'reg.example.com:5000', 'ca.crt'), join(b, 'reg.example.com:5000', 'other.crt'), pki.caCert]);
    expect(trust.clientCertificate?.certFile).toBe(join(a, 'reg.example.com:5000', 'client.cert'));
  });

  it('treats host and host:443 as the same folder', async () => {
    const dir = await certsRoot('reg.example.com', { 'ca.crt': pki.caCert });
    expect(loadRegistryTrust({ registry: 'reg.example.com:443', certsDirs: [dir], env: noEnv }).caFiles).toHaveLength(1);
  });

  it('re-adds NODE_EXTRA_CA_CERTS', () => {
    const trust = loadRegistryTrust({ registry: 'r:1', certsDirs: [], env: { NODE_EXTRA_CA_CERTS: pki.caCert } });
    expect(trust.caFiles).toEqual([pki.caCert]);
  });

  it.each([
    ['a missing caFile', { caFile: '/nonexistent/ca.pem' }, 'caFile /nonexistent/ca.pem does not exist'],
    ['a caFile that is not PEM', { caFile: __filename }, 'holds no PEM certificate'],
  ])('rejects %s', (_name, extra, message) => {
    expect(() => loadRegistryTrust({ registry: 'r:1', certsDirs: [], env: noEnv, ...extra })).toThrow(message);
  });

  it('rejects a client certificate without its key', async () => {
    const dir = await certsRoot('r:1', { 'client.cert': pki.clientCert });
    expect(() => loadRegistryTrust({ registry: 'r:1', certsDirs: [dir], env: noEnv })).toThrow('has no matching key');
  });
});

describe('a TLS registry signed by a private CA', () => {
  const { registry } = useTestRegistry(() => ({ httpExtra: pki.tlsYaml }));

  it('fails without the CA, with an error that says how to trust it', async () => {
    const error = await fetch(`${registry.url}/v2/`, { dispatcher: createDispatcher({ registry: registry.host, certsDirs: [], env: noEnv }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const explained = explainTlsError(error, registry.host);
    expect(explained).toBeInstanceOf(AurenError);
    expect(explained?.kind).toBe('registry');
    expect(explained?.message).toBe(`the TLS certificate of ${registry.host} is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`);
    expect(explained?.hint).toContain('caFile');
    expect(explained?.hint).toContain(`certs.d/${registry.host}/ca.crt`);
    expect(explainTlsError(new Error('ECONNREFUSED'), registry.host)).toBeUndefined();
  });

  it.each<[string, () => Promise<Parameters<typeof createDispatcher>[0]>]>([
    ['caFile', async () => ({ registry: registry.host, caFile: pki.caCert, certsDirs: [], env: noEnv })],
    ['certs.d/<host:port>/ca.crt', async () => ({ registry: registry.host, certsDirs: [await certsRoot(registry.host, { 'ca.crt': pki.caCert })], env: noEnv })],
    ['NODE_EXTRA_CA_CERTS', async () => ({ registry: registry.host, certsDirs: [], env: { NODE_EXTRA_CA_CERTS: pki.caCert } })],
    ['insecure', async () => ({ registry: registry.host, insecure: true, certsDirs: [], env: noEnv })],
  ])('succeeds when trusted through %s', async (_name, options) => {
    const dispatcher = createDispatcher(await options());
    const response = await fetch(`${registry.url}/v2/`, { dispatcher });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await dispatcher.close();
  });

  it('keeps Node default roots next to the private CA', () => {
    const trust = loadRegistryTrust({ registry: registry.host, caFile: pki.caCert, certsDirs: [], env: noEnv });
    expect(trust.ca).toHaveLength(1); // the Agent adds tls.rootCertificates to these
  });

  it('gives a builder the same trust through --cert-dir (skopeo as the standard client)', async () => {
    const workDir = join(root, 'builder');
    const tls = await builderTlsArgs(registry.host, { caFile: pki.caCert, certsDirs: [], env: noEnv, workDir });
    expect(tls.tlsVerify).toBe(true);
    expect(tls.args).toEqual(['--cert-dir', tls.certDir]);
    expect(await readdir(tls.certDir!)).toEqual(['ca-0.crt']);
    expect(tls.buildkitToml).toContain(`[registry."${registry.host}"]`);
    // Same content → same folder.
    expect((await builderTlsArgs(registry.host, { caFile: pki.caCert, certsDirs: [], env: noEnv, workDir })).certDir).toBe(tls.certDir);

    const layout = join(root, 'layout');
    await exec('umoci', ['init', '--layout', layout]);
    await exec('umoci', ['new', '--image', `${layout}:tiny`]);
    await exec('skopeo', ['copy', ...tls.skopeoArgs.dest, `oci:${layout}:tiny`, `docker://${registry.host}/auren/tiny:1`]);
    const { stdout } = await exec('skopeo', ['inspect', '--raw', ...tls.args, `docker://${registry.host}/auren/tiny:1`]);
    expect(JSON.parse(stdout).schemaVersion).toBe(2);
    // Without the cert dir skopeo refuses, so the folder is what made it work.
    const refused = await exec('skopeo', ['inspect', '--raw', `docker://${registry.host}/auren/tiny:1`], { okExitCodes: [1] });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/certificate/i);
  });
});

describe('a registry requiring client certificates (mutual TLS)', () => {
  const { registry } = useTestRegistry(() => ({ httpExtra: pki.mtlsYaml }));

  it('presents client.cert/client.key from certs.d', async () => {
    const dir = await certsRoot(registry.host, { 'ca.crt': pki.caCert, 'client.cert': pki.clientCert, 'client.key': pki.clientKey });
    const dispatcher = createDispatcher({ registry: registry.host, certsDirs: [dir], env: noEnv });
    const response = await fetch(`${registry.url}/v2/`, { dispatcher });
    expect(response.status).toBe(200);
    await response.arrayBuffer();

    const tls = await builderTlsArgs(registry.host, { certsDirs: [dir], env: noEnv, workDir: join(root, 'mtls') });
    expect((await readdir(tls.certDir!)).sort()).toEqual(['ca-0.crt', 'client.cert', 'client.key']);
    expect((await stat(join(tls.certDir!, 'client.key'))).mode & 0o777).toBe(0o600);
    expect(tls.buildkitToml).toContain('keypair');
    const { stdout } = await exec('skopeo', ['inspect', '--raw', ...tls.args, `docker://${registry.host}/none/here:1`], { okExitCodes: [1] });
    expect(stdout).toBe(''); // reached the registry (manifest unknown), no TLS failure
  });

  it('explains a missing client certificate', async () => {
    const dispatcher = createDispatcher({ registry: registry.host, caFile: pki.caCert, certsDirs: [], env: noEnv });
    const error = await fetch(`${registry.url}/v2/`, { dispatcher }).catch((e: unknown) => e);
    const explained = explainTlsError(error, registry.host);
    expect(explained?.message).toBe(`${registry.host} closed the connection before answering`);
    expect(explained?.hint).toContain(`certs.d/${registry.host}/`);
  });
});

describe('builderTlsArgs for plain-HTTP registries', () => {
  it.each([
    ['loopback without TLS material', '127.0.0.1:5000', {}, { tlsVerify: false, args: ['--tls-verify=false'] }],
    ['localhost', 'localhost:5000', {}, { tlsVerify: false, args: ['--tls-verify=false'] }],
    ['remote registry', 'ghcr.io', {}, { tlsVerify: true, args: [] }],
    ['insecure remote registry', 'reg.lan:5000', { insecure: true }, { tlsVerify: false, args: ['--tls-verify=false'] }],
    ['loopback declared HTTPS', '127.0.0.1:5000', { plainHttp: false }, { tlsVerify: true, args: [] }],
  ])('%s', async (_name, registry, extra, expected) => {
    const tls = await builderTlsArgs(registry, { certsDirs: [], env: noEnv, ...extra });
    expect(tls).toMatchObject({ ...expected, certDir: undefined });
  });

  it('writes a BuildKit fragment for plain HTTP', async () => {
    const tls = await builderTlsArgs('127.0.0.1:5000', { certsDirs: [], env: noEnv });
    expect(tls.buildkitToml).toBe('[registry."127.0.0.1:5000"]\n  http = true\n');
  });
});
