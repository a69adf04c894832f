import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SigningConfig } from '../config/options';
import { AurenError } from '../errors/errors';
import { isPinnedReference } from '../registry/digest';
import { exec as defaultExec } from '../exec/exec';
import { cosignRegistryAccess, withCosignAccess } from '../connect/child-tools';
import { findCosign, resolveKey, type CosignInput } from './cosign';
import { checkProvenanceStatement, SLSA_PROVENANCE_V1, type InTotoStatement, type ProvenanceExpectations, type SlsaProvenancePredicate } from './provenance';
import { secretsOf } from './sign';
import { verificationKey } from './verify';

/**
 * The provenance attestation, with the real cosign: `cosign attest --type slsaprovenance1`
 * wraps the predicate in an in-toto statement whose subject is the image's name and digest,
 * signs it as a DSSE envelope with the signing identity, and (cosign v3) stores the Sigstore
 * bundle as an OCI 1.1 referrer of the digest (annotation `dev.sigstore.bundle.predicateType`),
 * in the same `sha256-<hex>` fallback index as the signature and the SBOM on registries without
 * the referrers API. `cosign verify-attestation --type slsaprovenance1` is the judge.
 */

/** The cosign `--type` for SLSA provenance v1. */
export const PROVENANCE_TYPE = 'slsaprovenance1';

/** As for `cosign verify` (verify.ts): these exit codes mean "does not verify". */
const VERIFY_FAILURE_CODES = [1, 10, 11, 12, 13];

export function attestArgs(signing: SigningConfig, key: string | undefined, reference: string, predicateFile: string, flags: string[], type: string = PROVENANCE_TYPE): string[] {
  const common = ['attest', '--type', type, '--predicate', predicateFile];
  switch (signing.mode) {
    case 'key':
      return [...common, '--key', key ?? signing.key, ...(signing.tlog ? [] : ['--use-signing-config=false', '--tlog-upload=false']), '--yes', ...flags, reference];
    case 'keyless':
      return [...common, '--yes', ...flags, reference];
    case 'off':
    case 'local':
    case 'none':
      return [];
    default: {
      const unhandled: never = signing;
      throw new Error(`unhandled signing mode ${String(unhandled)}`);
    }
  }
}

export function verifyAttestationArgs(signing: SigningConfig, publicKey: string | undefined, reference: string, flags: string[], type: string = PROVENANCE_TYPE): string[] {
  const common = ['verify-attestation', '--type', type];
  switch (signing.mode) {
    case 'keyless':
      return [...common, '--certificate-identity', signing.identity, '--certificate-oidc-issuer', signing.issuer, ...flags, reference];
    case 'off':
    case 'local':
    case 'none':
    case 'key':
      return [...common, '--key', publicKey as string, ...(signing.tlog ? [] : ['--insecure-ignore-tlog=true']), ...flags, reference];
    default: {
      const unhandled: never = signing;
      throw new Error(`unhandled signing mode ${String(unhandled)}`);
    }
  }
}

export type AttestInput = CosignInput & { predicate: SlsaProvenancePredicate };

export async function attestProvenance(input: AttestInput): Promise<void> {
  const env = input.env ?? process.env;
  const signing = input.signing;
  if (signing.mode !== 'key' && signing.mode !== 'keyless') throw new AurenError('internal', `attestProvenance called without a signing identity (${signing.mode})`);
  if (!isPinnedReference(input.reference)) throw new AurenError('internal', `refusing to attest ${input.reference}: attest by digest, never by tag`);
  const cosign = await findCosign(env);
  const key = signing.mode === 'key' ? resolveKey(signing.key, input.workspaceRoot, 'signing.key') : undefined;
  const access = await cosignRegistryAccess(input.registry, input.insecureRegistries, { caFile: input.caFile, env });
  const dir = await mkdtemp(join(tmpdir(), 'auren-provenance-'));
  try {
    const file = join(dir, 'predicate.json');
    await writeFile(file, JSON.stringify(input.predicate), { mode: 0o600 });
    const run = input.exec ?? defaultExec;
    await withCosignAccess(input.registry, input.credentials, access.env, (cosignEnv) =>
      run(cosign, attestArgs(signing, key, input.reference, file, access.flags), { env: cosignEnv, redact: secretsOf(env, input.credentials) }).catch((error: unknown) => {
        throw new AurenError(
          'exec',
          `cosign could not attest the provenance of ${input.reference}: ${(error as Error).message}`,
          'The image is pushed without provenance; fix the cause and run docker-push again (it pushes nothing new and attests).',
          { cause: error },
        );
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export type ProvenanceVerification =
  | { status: 'verified'; reference: string; statement: InTotoStatement }
  | { status: 'unverified'; reference: string; reason: string };

/**
 * `cosign verify-attestation --type slsaprovenance1` with the public key (or keyless identity),
 * then the statement checked against what the deploy expects (provenance.ts). cosign prints one
 * DSSE envelope per verified attestation; any one that meets the expectations will do.
 */
export async function verifyProvenance(input: CosignInput & { expect?: ProvenanceExpectations }): Promise<ProvenanceVerification> {
  const env = input.env ?? process.env;
  const publicKey = verificationKey(input.signing, input.workspaceRoot);
  const cosign = await findCosign(env);
  const access = await cosignRegistryAccess(input.registry, input.insecureRegistries, { caFile: input.caFile, env });
  const run = input.exec ?? defaultExec;
  const digest = input.reference.slice(input.reference.lastIndexOf('@') + 1);
  return withCosignAccess(input.registry, input.credentials, access.env, async (cosignEnv) => {
    const result = await run(cosign, verifyAttestationArgs(input.signing, publicKey, input.reference, access.flags), {
      env: cosignEnv,
      okExitCodes: VERIFY_FAILURE_CODES,
      redact: secretsOf(env, input.credentials),
    });
    if (result.exitCode !== 0) {
      const reason = lastError(result.stderr || result.stdout);
      if (/connection refused|no such host|i\/o timeout|TLS handshake|x509:/i.test(reason)) {
        throw new AurenError('registry', `cosign could not reach ${input.registry} to verify the provenance of ${input.reference}: ${reason}`, 'Check that the registry is up and trusted (caFile, certs.d).');
      }
      return { status: 'unverified', reference: input.reference, reason };
    }
    const statements = parseEnvelopes(result.stdout);
    if (!statements.length) return { status: 'unverified', reference: input.reference, reason: 'cosign verified no SLSA provenance statement' };
    const reasons = statements.map((s) => checkProvenanceStatement(s, digest, input.expect ?? {}));
    const index = reasons.findIndex((r) => r === undefined);
    if (index !== -1) return { status: 'verified', reference: input.reference, statement: statements[index] };
    return { status: 'unverified', reference: input.reference, reason: `its provenance does not match: ${[...new Set(reasons)].join('; ')}` };
  });
}

/** cosign prints each verified envelope as JSON on a line: `{"payloadType":…,"payload":"<base64 statement>",…}`. */
export function parseEnvelopes(stdout: string): InTotoStatement[] {
  const statements: InTotoStatement[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    try {
      const envelope = JSON.parse(line) as { payload?: string; dsseEnvelope?: { payload?: string } };
      const payload = envelope.payload ?? envelope.dsseEnvelope?.payload;
      if (!payload) continue;
      const statement = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as InTotoStatement;
      if (statement.predicateType === SLSA_PROVENANCE_V1) statements.push(statement);
    } catch {
      // Not an envelope: cosign's other output.
    }
  }
  return statements;
}

function lastError(text: string): string {
  const lines = text.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const error = [...lines].reverse().find((l) => l.startsWith('Error:'));
  return (error ?? lines.at(-1) ?? 'cosign verify-attestation failed').replace(/^Error:\s*/, '');
}
