// @auren-test-tools policy-tester cosign, kyverno if built (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * Admission proven, not assumed. "cosign verify passes" is not proof that a
 * cluster admits an image, so the ClusterImagePolicy files of tools/policy (rendered by
 * tools/policy/render.sh, as a team applies them) are evaluated by sigstore policy-controller's
 * own engine: its `tester` command (`policy-tester`, built from the Go module proxy by
 * setup.sh --test-tools), which runs the admission webhook's verification for one image
 * reference without a cluster. The images are in a real distribution registry on a loopback port:
 * the engine's registry library speaks plain HTTP to 127.0.0.1 by itself, so nothing is switched
 * off for it. The registry has no referrers API, so cosign's tag fallback is what is read.
 *
 * Kyverno's verifyImages policy (tools/policy/kyverno-verify-images-key.yaml) is evaluated the
 * same way by Kyverno's own CLI (`kyverno apply --registry`, also built from the Go module proxy).
 * Kyverno's is the longest build of the test tools, so it is optional (tools/test-tools.txt):
 * without it on PATH those tests are skipped, and say so.
 *
 * The key policy is evaluated offline (no transparency log, as Auren's key signing uploads none).
 * The keyless one names the public Fulcio and Rekor, which cannot be reached here: it is validated
 * by the engine as shipped, and evaluated with a certificate authority of the test standing in
 * for Fulcio (its identity checks are the shipped file's). Both are also held against
 * policy-controller's CRD schema, read from the module folder `go mod download` keeps (Go is on
 * PATH wherever setup.sh built the engine).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { useTestRegistry } from '../testing/registry-server.testing';
import { normalizeOptions, type SigningConfig } from '../lib/config/options';
import { exec, which } from '../lib/exec/exec';
import { executePush, planPush } from '../lib/registry/push';
import { writeTestLayout } from '../lib/registry/layout.testing';
import { cosignRegistryAccess } from '../lib/connect/child-tools';
import { resolveSigningIdentity } from '../lib/supply-chain/identity';
import { signArgs, signImage } from '../lib/supply-chain/sign';
import { verifyImage } from '../lib/supply-chain/verify';

const POLICY_DIR = resolve(__dirname, '../../../../tools/policy');
const RENDER = join(POLICY_DIR, 'render.sh');
const TEST_TOOLS = resolve(__dirname, '../../../../tools/test-tools.txt');

/**
 * What cosign v3 needs, on top of argv that already turns the signing config off (cosign refuses
 * the legacy format with it on), to write the signature policy-controller v0.13.1 verifies: the
 * legacy `sha256-<hex>.sig` tag. signImage adds the same (legacySignArgs); the tests below sign
 * by hand only as someone else would (another key, another workflow).
 */
const LEGACY_SIGNATURE_FLAGS = ['--new-bundle-format=false'];

type Verdict = { admitted: true } | { admitted: false; errors: string[] };

const { registry, client } = useTestRegistry();
let work: string;
/** No docker config, cosign cache or Sigstore TUF cache of this machine's user. */
let env: NodeJS.ProcessEnv;
let ours: { signing: Extract<SigningConfig, { mode: 'key' }>; env: NodeJS.ProcessEnv; password: string };
let workspaceRoot: string;
let otherKey: string;
let keyPolicy: string;

beforeAll(async () => {
  for (const tool of ['policy-tester', 'cosign']) {
    if (!(await which(tool))) throw new Error(`${tool} is not on PATH (tools/.bin): run \`bash tools/scripts/setup.sh --test-tools\`; this test needs the real one`);
  }
  work = await mkdtemp(join(tmpdir(), 'auren-admission-'));
  env = { ...process.env, HOME: work, XDG_CONFIG_HOME: join(work, 'config'), DOCKER_CONFIG: join(work, 'docker'), TUF_ROOT: join(work, 'tuf'), COSIGN_PASSWORD: undefined };
  // Our signing identity as `npm start` has it: nothing configured, the embedded (loopback)
  // registry, so the workspace's local key pair, made on first use.
  workspaceRoot = join(work, 'workspace');
  const identity = await resolveSigningIdentity({ signing: normalizeOptions({}, {}).signing, registry: registry.host, workspaceRoot, env });
  if (identity.status !== 'active' || identity.origin !== 'local' || identity.signing.mode !== 'key') {
    throw new Error(`expected the local key pair to sign: ${JSON.stringify(identity)}`);
  }
  ours = { signing: identity.signing, env: identity.env, password: identity.env.COSIGN_PASSWORD ?? '' };
  // Another key pair, which the policy does not name.
  await exec('cosign', ['generate-key-pair', '--output-key-prefix', join(work, 'other')], { env: { ...env, COSIGN_PASSWORD: 'other' } });
  otherKey = join(work, 'other.key');

  const publicKey = ours.signing.publicKey;
  if (!publicKey) throw new Error('the local signing identity has no public key');
  keyPolicy = await render(['key', '--images', `${registry.host}/auren/**`, '--public-key', publicKey], 'key-policy.yaml');
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** tools/policy/render.sh's output, written to a file of the work folder. */
async function render(args: string[], file: string): Promise<string> {
  const { stdout } = await exec('bash', [RENDER, ...args], { env });
  const path = join(work, file);
  await writeFile(path, stdout);
  return path;
}

/** Pushes a fresh multi-platform image (what docker-push pushes) and returns its reference by digest. */
async function pushImage(repository: string): Promise<string> {
  const image = await writeTestLayout({ dir: await mkdtemp(join(work, 'layout-')), layerBytes: 256, sharedLayerBytes: 0, layers: 1 });
  await executePush(client, await planPush(client, image.layout, { repository, tags: ['v1'] }));
  return `${registry.host}/${repository}@${image.digest}`;
}

/** cosign with the plugin's own argv for this signing identity (signArgs), plus `extra`. */
async function cosignSign(reference: string, key: string, password: string, extra: string[]): Promise<void> {
  const access = await cosignRegistryAccess(registry.host, [], { env });
  const args = signArgs({ mode: 'key', key, publicKey: undefined, tlog: false }, key, reference, access.flags);
  await exec('cosign', [...args.slice(0, -1), ...extra, reference], { env: { ...access.env, COSIGN_PASSWORD: password }, redact: [password] });
}

/**
 * The engine's verdict: exit 0 admits; exit 1 with `{"errors": [...]}` on stdout refuses. Any
 * other outcome (an invalid policy, the engine failing to run) is an error of the test.
 */
async function evaluate(policy: string, reference: string, extra: string[] = []): Promise<Verdict> {
  const result = await exec('policy-tester', ['-policy', policy, '-image', reference, '-log-level', 'warn', ...extra], { env, okExitCodes: [1], timeoutMs: 120_000 });
  if (result.exitCode === 0) return { admitted: true };
  let errors: unknown;
  try {
    errors = (JSON.parse(result.stdout) as { errors?: unknown }).errors;
  } catch {
    errors = undefined;
  }
  if (!Array.isArray(errors)) throw new Error(`policy-tester did not evaluate ${reference}: ${result.stderr || result.stdout}`);
  return { admitted: false, errors: errors.map(String) };
}

describe('the key ClusterImagePolicy, evaluated by policy-controller v0.13.1', () => {
  it('admits a digest the plugin signed: signImage writes the bundle and the legacy .sig tag admission controllers read', async () => {
    const reference = await pushImage('auren/admitted');
    const input = { reference, registry: registry.host, insecureRegistries: [], signing: ours.signing, workspaceRoot, credentials: undefined, env: ours.env };
    await expect(signImage(input)).resolves.toMatchObject({ status: 'signed' });
    // Both signatures are there: cosign v3's bundle in the referrers fallback index, and the .sig tag.
    const tag = reference.split('@')[1].replace(':', '-');
    expect(await client.tagList('auren/admitted')).toEqual(expect.arrayContaining([tag, `${tag}.sig`]));
    await expect(evaluate(keyPolicy, reference)).resolves.toEqual({ admitted: true });
    // And the plugin's own check (cosign verify) still verifies the digest.
    await expect(verifyImage(input)).resolves.toEqual({ status: 'verified', reference });
  }, 180_000);

  it('refuses a digest signed only as a cosign v3 bundle (cosign sign with the plugin\'s argv, no legacy signature)', async () => {
    const reference = await pushImage('auren/bundle-only');
    await cosignSign(reference, ours.signing.key, ours.password, []);
    const tags = await client.tagList('auren/bundle-only');
    expect(tags).toContain(reference.split('@')[1].replace(':', '-'));
    expect(tags.some((tag) => tag.endsWith('.sig'))).toBe(false);
    expect(await evaluate(keyPolicy, reference)).toMatchObject({ admitted: false, errors: [expect.stringMatching(/: no signatures found/)] });
  }, 180_000);

  it('cannot be told to read the bundle instead: the engine refuses signatureFormat: bundle for a key authority', async () => {
    const reference = await pushImage('auren/bundle-format');
    const signed = await signImage({ reference, registry: registry.host, insecureRegistries: [], signing: ours.signing, workspaceRoot, credentials: undefined, env: ours.env });
    expect(signed).toMatchObject({ status: 'signed' });
    const bundlePolicy = join(work, 'key-policy-bundle.yaml');
    await writeFile(bundlePolicy, `${await readFile(keyPolicy, 'utf8')}      signatureFormat: bundle\n`);
    expect(await evaluate(bundlePolicy, reference)).toMatchObject({ admitted: false, errors: [expect.stringContaining('the authority must be keyless')] });
  }, 180_000);

  it('refuses an unsigned digest', async () => {
    const reference = await pushImage('auren/unsigned');
    expect(await evaluate(keyPolicy, reference)).toMatchObject({ admitted: false, errors: [expect.stringMatching(/: no signatures found/)] });
  }, 180_000);

  it('refuses a digest signed with another key', async () => {
    const reference = await pushImage('auren/other-key');
    await cosignSign(reference, otherKey, 'other', LEGACY_SIGNATURE_FLAGS);
    // The signature is there, in the format the engine reads: it is refused for its key.
    expect(await client.tagList('auren/other-key')).toContain(`${reference.split('@')[1].replace(':', '-')}.sig`);
    expect(await evaluate(keyPolicy, reference)).toMatchObject({ admitted: false, errors: [expect.stringMatching(/: no matching signatures: invalid signature/)] });
  }, 180_000);
});

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
const WORKFLOWS = 'https://github.com/acme/auren.web/.github/workflows';
const TEST_TRUST_ROOT = 'auren-test-fulcio';

/**
 * A stand-in for Fulcio, which cannot be reached here: a CA of our own, and certificates it issues
 * the way Fulcio does for a GitHub Actions run (the workflow's URI as the only SAN, the OIDC issuer
 * in Fulcio's extensions, code signing). The engine is given the CA as a TrustRoot (its -trustroot
 * option), so the policy's identity checks run for real, offline.
 */
async function testFulcio(dir: string) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const p = (name: string) => join(dir, name);
  await exec('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/O=auren-test/CN=auren test fulcio',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { cwd: dir });
  const trustRoot = p('trustroot.yaml');
  await writeFile(trustRoot, [
    'apiVersion: policy.sigstore.dev/v1alpha1',
    'kind: TrustRoot',
    `metadata: {name: ${TEST_TRUST_ROOT}}`,
    'spec:',
    '  sigstoreKeys:',
    '    certificateAuthorities:',
    '      - subject: {organization: auren-test, commonName: auren test fulcio}',
    '        uri: https://fulcio.invalid',
    `        certChain: ${(await readFile(p('ca.pem'))).toString('base64')}`,
    '',
  ].join('\n'));
  /** A key pair in cosign's format and its certificate for `identity`. */
  const issue = async (name: string, identity: string) => {
    await exec('openssl', ['req', '-new', ...ec, '-keyout', p(`${name}.pem.key`), '-out', p(`${name}.csr`), '-subj', '/O=auren-test'], { cwd: dir });
    await writeFile(p(`${name}.ext`), [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=codeSigning',
      `subjectAltName=critical,URI:${identity}`,
      // Fulcio's OIDC issuer extensions: v1 holds the bare string, v2 a DER UTF8String.
      `1.3.6.1.4.1.57264.1.1=DER:${Buffer.from(GITHUB_ISSUER).toString('hex')}`,
      `1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${GITHUB_ISSUER}`,
      '',
    ].join('\n'));
    await exec('openssl', ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '1',
      '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`)], { cwd: dir });
    await exec('cosign', ['import-key-pair', '--key', p(`${name}.pem.key`), '--output-key-prefix', p(name)], { cwd: dir, env: { ...env, COSIGN_PASSWORD: name } });
    return { key: p(`${name}.key`), password: name, certificate: p(`${name}.crt`), chain: p('ca.pem') };
  };
  return { trustRoot, issue };
}

/**
 * The shipped keyless policy, pointed at the test CA instead of the public Fulcio, with no Rekor
 * and no certificate transparency (the test signatures have neither). Everything else, the
 * identities and the signature format, is the shipped file's.
 */
function withTestFulcio(policy: string): string {
  const swaps: [string, string][] = [
    ['        url: https://fulcio.sigstore.dev\n', `        trustRootRef: ${TEST_TRUST_ROOT}\n        insecureIgnoreSCT: true\n`],
    ['      ctlog:\n        url: https://rekor.sigstore.dev\n', ''],
  ];
  for (const [from, to] of swaps) {
    if (!policy.includes(from)) throw new Error(`the keyless policy no longer has ${JSON.stringify(from)}: adapt withTestFulcio`);
    policy = policy.replace(from, to);
  }
  return policy;
}

describe('the keyless ClusterImagePolicy (CI, GitHub Actions OIDC)', () => {
  let shipped: string;
  let offline: string;
  let fulcio: Awaited<ReturnType<typeof testFulcio>>;
  let release: Awaited<ReturnType<Awaited<ReturnType<typeof testFulcio>>['issue']>>;

  beforeAll(async () => {
    shipped = await render(['keyless', '--images', `${registry.host}/ci/**`, '--repository', 'acme/auren.web'], 'keyless-policy.yaml');
    offline = join(work, 'keyless-offline.yaml');
    await writeFile(offline, withTestFulcio(await readFile(shipped, 'utf8')));
    const dir = await mkdtemp(join(work, 'fulcio-'));
    fulcio = await testFulcio(dir);
    release = await fulcio.issue('release', `${WORKFLOWS}/release.yml@refs/heads/main`);
  }, 120_000);

  /** cosign signing the way a keyless CI run does, with the test CA's certificate instead of Fulcio's. */
  async function signAsWorkflow(reference: string, as: typeof release, extra: string[]): Promise<void> {
    const access = await cosignRegistryAccess(registry.host, [], { env });
    await exec('cosign', ['sign', '--key', as.key, '--certificate', as.certificate, '--certificate-chain', as.chain,
      '--use-signing-config=false', '--tlog-upload=false', ...extra, '--yes', ...access.flags, reference], { env: { ...access.env, COSIGN_PASSWORD: as.password } });
  }
  const evaluateOffline = async (reference: string, policy = offline): Promise<Verdict> => evaluate(policy, reference, ['-trustroot', fulcio.trustRoot]);

  it('admits a digest the release workflow signed in the legacy format (the .sig tag)', async () => {
    const reference = await pushImage('ci/release');
    await signAsWorkflow(reference, release, LEGACY_SIGNATURE_FLAGS);
    await expect(evaluateOffline(reference)).resolves.toEqual({ admitted: true });
  }, 180_000);

  it('refuses a digest another workflow of the repository signed', async () => {
    const reference = await pushImage('ci/pull-request');
    const pr = await fulcio.issue('pr', `${WORKFLOWS}/pr.yml@refs/heads/main`);
    await signAsWorkflow(reference, pr, LEGACY_SIGNATURE_FLAGS);
    expect(await evaluateOffline(reference)).toMatchObject({
      admitted: false,
      errors: [expect.stringContaining(`none of the expected identities matched what was in the certificate, got subjects [${WORKFLOWS}/pr.yml@refs/heads/main]`)],
    });
  }, 180_000);

  it('refuses a digest the release workflow signed only in cosign v3 bundle format (cosign sign without flags)', async () => {
    const reference = await pushImage('ci/bundle-only');
    await signAsWorkflow(reference, release, []);
    expect(await evaluateOffline(reference)).toMatchObject({ admitted: false, errors: [expect.stringMatching(/: no signatures found/)] });
    // Nor would asking for the bundle format help: policy-controller v0.13.1 reads bundles only
    // for attestations, never for image signatures.
    const bundlePolicy = join(work, 'keyless-bundle.yaml');
    await writeFile(bundlePolicy, `${await readFile(offline, 'utf8')}      signatureFormat: bundle\n`);
    expect(await evaluateOffline(reference, bundlePolicy)).toMatchObject({
      admitted: false,
      errors: [expect.stringContaining('bundle support for image signatures is not yet implemented')],
    });
  }, 180_000);

  it('is valid for the engine as shipped (public Fulcio and Rekor; checked offline with an image outside its glob)', async () => {
    // The engine validates and compiles the policy first and reports an invalid one; an image the
    // policy does not cover then needs no Fulcio, Rekor or TUF to be refused.
    const reference = await pushImage('auren/uncovered');
    expect(await evaluate(shipped, reference)).toEqual({ admitted: false, errors: [`${reference} is uncovered by policy`] });

    // The same check tells an invalid policy apart: without identities a keyless authority is refused.
    const broken = join(work, 'keyless-broken.yaml');
    await writeFile(broken, (await readFile(shipped, 'utf8')).replace(/\n\s+identities:\n(\s+- .*\n)(\s{12,}.*\n)*/, '\n'));
    await expect(evaluate(broken, reference)).rejects.toThrow(/CIP is invalid/);
  }, 180_000);

  it('names the release workflow of the repository on the branches it releases, and nothing else', async () => {
    const text = await readFile(shipped, 'utf8');
    expect(text).toContain(`- issuer: ${GITHUB_ISSUER}`);
    const subject = /subjectRegExp: '(.*)'/.exec(text)?.[1];
    if (!subject) throw new Error(`no subjectRegExp in ${text}`);
    const matches = (identity: string) => new RegExp(subject).test(identity);
    expect(matches(`${WORKFLOWS}/release.yml@refs/heads/main`)).toBe(true);
    expect(matches(`${WORKFLOWS}/release.yml@refs/heads/develop`)).toBe(true);
    expect(matches(`${WORKFLOWS}/pr.yml@refs/heads/main`)).toBe(false);
    expect(matches(`${WORKFLOWS}/release.yml@refs/heads/feature`)).toBe(false);
    expect(matches(`${WORKFLOWS}/release.yml@refs/pull/1/merge`)).toBe(false);
    // The dot of the repository name matches only a dot.
    expect(matches('https://github.com/acme/aurenXweb/.github/workflows/release.yml@refs/heads/main')).toBe(false);
    expect(matches('https://github.com/acme/auren.web.evil/.github/workflows/release.yml@refs/heads/main')).toBe(false);
  });
});

/**
 * Kyverno's verdict on a Pod running `reference`: exit 0 with no failure admits; exit 1 with
 * failures refuses, for the reasons Kyverno prints. Anything else is an error of the test.
 */
async function kyvernoVerdict(policy: string, reference: string): Promise<Verdict> {
  const name = reference.split('/').pop()?.split('@')[0] ?? 'app';
  const pod = join(work, `pod-${name}.yaml`);
  await writeFile(pod, ['apiVersion: v1', 'kind: Pod', `metadata: {name: ${name}, namespace: default}`, 'spec:', '  containers:', `    - {name: app, image: '${reference}'}`, ''].join('\n'));
  const result = await exec('kyverno', ['apply', policy, '--resource', pod, '--registry', '--remove-color'], { env, okExitCodes: [1], timeoutMs: 120_000 });
  const counts = /pass: (\d+), fail: (\d+), warn: \d+, error: (\d+)/.exec(result.stdout);
  if (!counts || counts[3] !== '0') throw new Error(`kyverno did not evaluate ${reference}: ${result.stdout}${result.stderr}`);
  if (result.exitCode === 0 && counts[2] === '0' && Number(counts[1]) > 0) return { admitted: true };
  const errors = result.stdout.split('\n').filter((line) => /^\d+ - /.test(line));
  if (result.exitCode !== 1 || errors.length === 0) throw new Error(`kyverno gave no verdict for ${reference}: ${result.stdout}${result.stderr}`);
  return { admitted: false, errors };
}

const kyvernoBuilt = (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, 'kyverno')));
if (!kyvernoBuilt) console.warn('kyverno is not on PATH: the Kyverno admission tests are skipped (AUREN_OPTIONAL_TOOLS=kyverno bash tools/scripts/setup.sh --test-tools builds it)');

(kyvernoBuilt ? describe : describe.skip)('the Kyverno verifyImages policy, evaluated by the Kyverno CLI v1.19.1', () => {
  let kyvernoPolicy: string;
  beforeAll(async () => {
    kyvernoPolicy = await render(['kyverno-key', '--images', `${registry.host}/auren/*`, '--public-key', ours.signing.publicKey ?? ''], 'kyverno-policy.yaml');
  });

  it('admits a digest signed by the plugin (signImage: the bundle in the referrers fallback index, and the legacy .sig tag)', async () => {
    // A repository two levels under the pattern's folder: Kyverno's `*` matches across slashes.
    const reference = await pushImage('auren/team/kyverno-signed');
    const signed = await signImage({ reference, registry: registry.host, insecureRegistries: [], signing: ours.signing, workspaceRoot, credentials: undefined, env: ours.env });
    expect(signed).toMatchObject({ status: 'signed' });
    await expect(kyvernoVerdict(kyvernoPolicy, reference)).resolves.toEqual({ admitted: true });
  }, 180_000);

  it('refuses an unsigned digest', async () => {
    const reference = await pushImage('auren/kyverno-unsigned');
    expect(await kyvernoVerdict(kyvernoPolicy, reference)).toMatchObject({ admitted: false, errors: expect.arrayContaining([expect.stringContaining('no matching signatures found')]) });
  }, 180_000);

  it('refuses a digest signed with another key', async () => {
    const reference = await pushImage('auren/kyverno-other-key');
    await cosignSign(reference, otherKey, 'other', []);
    expect(await kyvernoVerdict(kyvernoPolicy, reference)).toMatchObject({ admitted: false, errors: expect.arrayContaining([expect.stringContaining('no matching signatures found')]) });
    // Found and valid, for the key that made it: refused for its key, not for want of a signature.
    const otherPolicy = await render(['kyverno-key', '--images', `${registry.host}/auren/*`, '--public-key', join(work, 'other.pub')], 'kyverno-other.yaml');
    await expect(kyvernoVerdict(otherPolicy, reference)).resolves.toEqual({ admitted: true });
  }, 180_000);
});

/** The parts of an OpenAPI v3 schema of a CRD that say which fields exist. */
interface FieldSchema {
  properties?: Record<string, FieldSchema>;
  items?: FieldSchema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/**
 * The fields of `value` its schema does not declare. Kubernetes drops them from a custom resource
 * without a word, so a misspelt field would silently not apply. An object declared without properties
 * (metadata) is not looked into.
 */
function undeclaredFields(value: unknown, schema: FieldSchema, path = ''): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields']) return [];
  if (Array.isArray(value)) return schema.items ? value.flatMap((item, i) => undeclaredFields(item, schema.items as FieldSchema, `${path}[${i}]`)) : [];
  if (!value || typeof value !== 'object' || !schema.properties) return [];
  const properties = schema.properties;
  return Object.entries(value).flatMap(([key, child]) =>
    properties[key] ? undeclaredFields(child, properties[key], `${path}.${key}`) : [`${path}.${key}`],
  );
}

/** policy-controller's ClusterImagePolicy CRD schema of `version`, from the module setup.sh built the engine from. */
async function clusterImagePolicySchema(version: string): Promise<FieldSchema> {
  const line = (await readFile(TEST_TOOLS, 'utf8')).split('\n').find((l) => l.startsWith('policy-tester '));
  const pinned = line?.split(/\s+/)[2];
  if (!pinned) throw new Error(`no policy-tester line in ${TEST_TOOLS}`);
  const { stdout } = await exec('go', ['mod', 'download', '-json', `github.com/sigstore/policy-controller@${pinned}`], { cwd: work, env: process.env });
  const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download gave no folder for policy-controller ${pinned}: ${stdout}`);
  const crd = parse(await readFile(join(dir, 'config', '300-clusterimagepolicy.yaml'), 'utf8')) as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: FieldSchema } }[] };
  };
  const served = crd.spec.versions.find((v) => v.name === version);
  if (!served) throw new Error(`policy-controller ${pinned} has no ClusterImagePolicy ${version}`);
  // apiVersion, kind and metadata are every resource's own; the CRD declares spec (and status).
  const root = served.schema.openAPIV3Schema;
  return { properties: { apiVersion: {}, kind: {}, metadata: {}, ...root.properties } };
}

describe("the policies against policy-controller's CRD", () => {
  it('use only fields the CRD declares (Kubernetes would drop any other); a misspelt one is caught', async () => {
    const keyless = await render(['keyless', '--images', 'ghcr.io/acme/**', '--repository', 'acme/auren'], 'crd-keyless.yaml');
    for (const file of [keyPolicy, keyless]) {
      const documents = parseAllDocuments(await readFile(file, 'utf8')).map((d) => d.toJS() as { apiVersion: string; kind: string });
      expect(documents.map((d) => [d.apiVersion, d.kind])).toEqual([['policy.sigstore.dev/v1beta1', 'ClusterImagePolicy']]);
      expect(undeclaredFields(documents[0], await clusterImagePolicySchema('v1beta1'))).toEqual([]);
    }
    // A misspelt subjectRegExp would leave the identity without its subject: any workflow of any repository.
    const misspelt = parse((await readFile(keyless, 'utf8')).replace(/^(\s+)subjectRegExp:/m, '$1subjectRegexp:'));
    expect(undeclaredFields(misspelt, await clusterImagePolicySchema('v1beta1'))).toEqual(['.spec.authorities[0].keyless.identities[0].subjectRegexp']);
  }, 120_000);
});

describe('tools/policy/render.sh', () => {
  it('refuses a private key, and a glob that would change the YAML', async () => {
    const run = (args: string[]) => exec('bash', [RENDER, ...args], { env, okExitCodes: [2] });
    const privateKey = await run(['key', '--images', 'x/**', '--public-key', ours.signing.key]);
    expect(privateKey).toMatchObject({ exitCode: 2, stdout: '' });
    expect(privateKey.stderr).toMatch(/not a PEM public key/);
    const quote = await run(['key', '--images', "x/**'\n  - glob: '**", '--public-key', ours.signing.publicKey ?? '']);
    expect(quote).toMatchObject({ exitCode: 2, stdout: '' });
    expect(quote.stderr).toMatch(/has characters a registry reference glob does not use/);
  });
});
