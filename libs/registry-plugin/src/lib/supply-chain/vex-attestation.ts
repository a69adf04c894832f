import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AurenError } from '../errors/errors';
import { isPinnedReference } from '../registry/digest';
import { exec as defaultExec } from '../exec/exec';
import { attestArgs, verifyAttestationArgs } from './attest';
import { cosignRegistryAccess, withCosignAccess } from '../connect/child-tools';
import { findCosign, resolveKey, type CosignInput } from './cosign';
import { secretsOf } from './sign';
import { verificationKey } from './verify';

/**
 * The OpenVEX documents the scan applied (scan/vex/, only statements in force: lib/scanners/vex.ts),
 * attested to the pushed digest with the real cosign and the same signing identity as the
 * signature and the provenance: `cosign attest --type openvex` wraps each document in an in-toto
 * statement (predicateType https://openvex.dev/ns) and stores it as a referrer, so a consumer
 * sees why a finding was accepted, signed by whoever signed the image, and
 * `cosign verify-attestation --type openvex` is the judge. A document already attested with
 * this identity (the same predicate) is not attested again.
 */

export const VEX_ATTESTATION_TYPE = 'openvex';
export const OPENVEX_PREDICATE = 'https://openvex.dev/ns';
/** As for `cosign verify`: these exit codes mean "does not verify" (here: none attested yet). */
const VERIFY_FAILURE_CODES = [1, 10, 11, 12, 13];

/** The scan's in-force documents for one image: `<scan dir>/vex/*.json`, in order. */
export async function scanVexFiles(vexDir: string): Promise<string[]> {
  const names = await readdir(vexDir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.json')).sort().map((n) => join(vexDir, n));
}

/** JSON with its keys sorted: the same document however cosign re-serialised it. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as object).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The OpenVEX predicates attested to `reference` that verify with the identity, canonicalised. */
export async function attestedVex(input: CosignInput): Promise<Set<string>> {
  const env = input.env ?? process.env;
  const cosign = await findCosign(env);
  const access = await cosignRegistryAccess(input.registry, input.insecureRegistries, { caFile: input.caFile, env });
  const publicKey = verificationKey(input.signing, input.workspaceRoot);
  const run = input.exec ?? defaultExec;
  return withCosignAccess(input.registry, input.credentials, access.env, async (cosignEnv) => {
    const result = await run(cosign, verifyAttestationArgs(input.signing, publicKey, input.reference, access.flags, VEX_ATTESTATION_TYPE), {
      env: cosignEnv,
      okExitCodes: VERIFY_FAILURE_CODES,
      redact: secretsOf(env, input.credentials),
    });
    const found = new Set<string>();
    if (result.exitCode !== 0) return found;
    for (const line of result.stdout.split('\n')) {
      if (!line.trim().startsWith('{')) continue;
      try {
        const envelope = JSON.parse(line) as { payload?: string; dsseEnvelope?: { payload?: string } };
        const payload = envelope.payload ?? envelope.dsseEnvelope?.payload;
        if (!payload) continue;
        const statement = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { predicateType?: string; predicate?: unknown };
        if (statement.predicateType === OPENVEX_PREDICATE) found.add(canonicalJson(statement.predicate));
      } catch {
        // Not an envelope: cosign's other output.
      }
    }
    return found;
  });
}

export type VexAttestationOutcome = { attested: string[]; already: string[] };

/**
 * Attests each of `files` not attested yet; `files` are the scan's copies (scan/vex/).
 * `attachedTypes`, the predicate types of the bundles attached to the digest when the caller has
 * listed them: without an OpenVEX one there is nothing to verify, and cosign is not asked.
 */
export async function attestVex(input: CosignInput & { files: readonly string[]; attachedTypes?: readonly string[] }): Promise<VexAttestationOutcome> {
  const env = input.env ?? process.env;
  const signing = input.signing;
  if (signing.mode !== 'key' && signing.mode !== 'keyless') throw new AurenError('internal', `attestVex called without a signing identity (${signing.mode})`);
  if (!isPinnedReference(input.reference)) throw new AurenError('internal', `refusing to attest ${input.reference}: attest by digest, never by tag`);
  const present = input.attachedTypes && !input.attachedTypes.includes(OPENVEX_PREDICATE) ? new Set<string>() : await attestedVex(input);
  const cosign = await findCosign(env);
  const key = signing.mode === 'key' ? resolveKey(signing.key, input.workspaceRoot, 'signing.key') : undefined;
  const access = await cosignRegistryAccess(input.registry, input.insecureRegistries, { caFile: input.caFile, env });
  const run = input.exec ?? defaultExec;
  const outcome: VexAttestationOutcome = { attested: [], already: [] };
  for (const file of input.files) {
    const document = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (present.has(canonicalJson(document))) {
      outcome.already.push(file);
      continue;
    }
    await withCosignAccess(input.registry, input.credentials, access.env, (cosignEnv) =>
      run(cosign, attestArgs(signing, key, input.reference, file, access.flags, VEX_ATTESTATION_TYPE), { env: cosignEnv, redact: secretsOf(env, input.credentials) }).catch((error: unknown) => {
        throw new AurenError(
          'exec',
          `cosign could not attest the OpenVEX document ${file} to ${input.reference}: ${(error as Error).message}`,
          'The image is pushed without it; fix the cause and run docker-push again (it pushes nothing new and attests).',
          { cause: error },
        );
      }),
    );
    outcome.attested.push(file);
  }
  return outcome;
}
