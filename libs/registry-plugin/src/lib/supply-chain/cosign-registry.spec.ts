// @auren-test-tools cosign (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHtpasswd } from '../../testing/htpasswd.testing';
import { type TestRegistry, startTestRegistries } from '../../testing/registry-server.testing';
import { createTestPki, type TestPki } from '../../testing/tls-certs.testing';
import { normalizeOptions, type SigningConfig } from '../config/options';
import { exec, which } from '../exec/exec';
import { createAuthenticator } from '../registry/auth';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import { createRegistryClient } from '../registry/client';
import { executePush, planPush } from '../registry/push';
import { writeTestLayout } from '../registry/layout.testing';
import { createDispatcher } from '../registry/tls';
import { cosignRegistryAccess } from '../connect/child-tools';
import { signImage } from './sign';
import { verifyImage } from './verify';

/**
 * cosign against loopback registries, with the real cosign: a TLS registry on 127.0.0.1 (a
 * port-forward to a real registry) is verified with its CA, like the client and the builder do;
 * only a loopback registry that speaks plain HTTP gets cosign's insecure flags.
 */

const USER = 'signer';
const PASSWORD = 'cosign-registry-spec-password';
const INSECURE_FLAGS = ['--allow-http-registry', '--allow-insecure-registry'];

let pki: TestPki;
let work: string;
let tls: TestRegistry;
let plain: TestRegistry;
let signing: SigningConfig;
const credentials: ResolvedCredentials = { username: USER, password: PASSWORD, source: 'test' };
/** No certs.d of this machine, no NODE_EXTRA_CA_CERTS of the runner: each case names its trust. */
let baseEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  if (!(await which('cosign'))) throw new Error('cosign is not on PATH (tools/.bin): this test needs the real one');
  pki = await createTestPki();
  work = await mkdtemp(join(tmpdir(), 'auren-cosign-registry-'));
  const htpasswd = await writeHtpasswd({ [USER]: PASSWORD }, { dir: work });
  [tls, plain] = await startTestRegistries({ httpExtra: pki.tlsYaml, extraConfig: htpasswd.yaml }, {});
  baseEnv = { ...process.env, HOME: work, XDG_CONFIG_HOME: join(work, 'config'), NODE_EXTRA_CA_CERTS: undefined, COSIGN_PASSWORD: 'spec' };
  await exec('cosign', ['generate-key-pair'], { cwd: work, env: baseEnv });
  signing = normalizeOptions({ signing: { key: join(work, 'cosign.key'), publicKey: join(work, 'cosign.pub') } }, {}).signing;
}, 120_000);

afterAll(async () => {
  await Promise.all([tls?.stop(), plain?.stop()]);
  await rm(work, { recursive: true, force: true });
  await rm(pki.dir, { recursive: true, force: true });
});

async function pushTestImage(registry: TestRegistry, withTls: boolean): Promise<string> {
  const client = createRegistryClient({
    registry: registry.host,
    ...(withTls
      ? {
          insecure: false,
          dispatcher: createDispatcher({ registry: registry.host, caFile: pki.caCert, certsDirs: [], env: {} }),
          authenticator: createAuthenticator({ credentials: { username: USER, password: PASSWORD }, env: {} }),
        }
      : {}),
  });
  const image = await writeTestLayout({ platforms: ['linux/amd64'], dir: await mkdtemp(join(work, 'layout-')) });
  await executePush(client, await planPush(client, image.layout, { repository: 'auren/signed', tags: ['v1'] }));
  return `${registry.host}/auren/signed@${image.digest}`;
}

describe('cosign and a TLS registry on a loopback address', () => {
  let reference: string;
  beforeAll(async () => {
    reference = await pushTestImage(tls, true);
  });

  it('gets no insecure flag, and the registry CA in SSL_CERT_DIR', async () => {
    const access = await cosignRegistryAccess(tls.host, [], { caFile: pki.caCert, env: baseEnv });
    expect(access.flags).toEqual([]);
    const dirs = (access.env.SSL_CERT_DIR ?? '').split(':');
    expect(dirs[0]).toBe('/etc/ssl/certs'); // the system roots stay
    expect(dirs).toHaveLength(2);
  });

  it('signs with the CA from caFile and verifies with the CA from NODE_EXTRA_CA_CERTS', async () => {
    const common = { reference, registry: tls.host, insecureRegistries: [], signing, workspaceRoot: work, credentials };
    await expect(signImage({ ...common, caFile: pki.caCert, env: baseEnv })).resolves.toMatchObject({ status: 'signed' });
    await expect(verifyImage({ ...common, env: { ...baseEnv, NODE_EXTRA_CA_CERTS: pki.caCert } })).resolves.toEqual({ status: 'verified', reference });
  });

  it('refuses a registry whose CA it was not given (verification is on, not skipped)', async () => {
    const common = { reference, registry: tls.host, insecureRegistries: [], signing, workspaceRoot: work, credentials, env: baseEnv };
    const error = await signImage(common).catch((e: Error) => e);
    expect(error).toMatchObject({ kind: 'exec', message: expect.stringMatching(/x509: certificate signed by unknown authority/) });
    expect((error as Error).message).not.toContain(PASSWORD);
    const verified = await verifyImage(common).catch((e: Error) => e);
    // A trust failure is an error that says how to trust the registry, not an "unverified" image.
    expect(verified).toMatchObject({ kind: 'registry', message: expect.stringContaining(`does not trust the TLS certificate of ${tls.host}`), hint: expect.stringContaining('caFile') });
  });

  it('turns verification off only for a registry listed in insecureRegistries', async () => {
    const access = await cosignRegistryAccess(tls.host, [tls.host], { env: baseEnv });
    expect(access.flags).toEqual(INSECURE_FLAGS);
    await expect(
      verifyImage({ reference, registry: tls.host, insecureRegistries: [tls.host], signing, workspaceRoot: work, credentials, env: baseEnv }),
    ).resolves.toEqual({ status: 'verified', reference });
  });
});

describe('cosign and a plain-HTTP loopback registry', () => {
  it('gets the insecure flags (the server does not speak TLS), and signs and verifies', async () => {
    const access = await cosignRegistryAccess(plain.host, [], { env: baseEnv });
    expect(access).toEqual({ flags: INSECURE_FLAGS, env: baseEnv });
    const reference = await pushTestImage(plain, false);
    const common = { reference, registry: plain.host, insecureRegistries: [], signing, workspaceRoot: work, credentials: undefined, env: baseEnv };
    await expect(signImage(common)).resolves.toMatchObject({ status: 'signed' });
    await expect(verifyImage(common)).resolves.toEqual({ status: 'verified', reference });
  });
});
