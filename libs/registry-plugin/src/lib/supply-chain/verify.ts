import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SigningConfig } from '../config/options';
import { AurenError, configError } from '../errors/errors';
import { exec as defaultExec } from '../exec/exec';
import { cosignRegistryAccess, withCosignAccess } from '../connect/child-tools';
import { findCosign, isKeyReference, resolveKey, type CosignInput } from './cosign';
import { LOCAL_SIGNING_DIR, readLocalKeyPair } from './local-key';
import { secretsOf } from './sign';

/**
 * Verifies a digest's signature with the real `cosign verify`: with the configured public key
 * (`--key cosign.pub` or a KMS reference) or, keyless, against the certificate identity and
 * issuer. Without a transparency log (the default for key pairs) `--insecure-ignore-tlog` skips
 * the Rekor inclusion proof; the signature itself is still checked against the key.
 * "Does not verify" is an expected outcome, returned as a value with cosign's reason.
 */

/**
 * cosign's exit codes for "does not verify" (cmd/cosign/errors/exit_codes.go): 10 image without
 * signature, 11 tag does not exist, 12 no matching signature, 13 no certificate; 1 for the rest
 * (wrong key format, digest not found…). Anything else is cosign failing to run.
 */
const VERIFY_FAILURE_CODES = [1, 10, 11, 12, 13];

export type VerifyInput = CosignInput;

export type VerifyOutcome = { status: 'verified'; reference: string } | { status: 'unverified'; reference: string; reason: string };

export function verifyArgs(signing: SigningConfig, publicKey: string | undefined, reference: string, flags: string[]): string[] {
  switch (signing.mode) {
    case 'off':
    case 'local':
    case 'none':
    case 'key':
      return ['verify', '--key', publicKey as string, ...(signing.tlog ? [] : ['--insecure-ignore-tlog=true']), ...flags, '--output', 'json', reference];
    case 'keyless':
      return ['verify', '--certificate-identity', signing.identity, '--certificate-oidc-issuer', signing.issuer, ...flags, '--output', 'json', reference];
    default: {
      const unhandled: never = signing;
      throw new Error(`unhandled signing mode ${String(unhandled)}`);
    }
  }
}

/** The public key verification needs, or a config error saying how to provide it. */
export function verificationKey(signing: SigningConfig, workspaceRoot: string): string | undefined {
  if (signing.mode === 'keyless') return undefined;
  if (signing.mode === 'local') {
    // The key pair pushes to the embedded registry made: its public half, with no configuration.
    const pair = readLocalKeyPair(workspaceRoot);
    if (pair) return pair.publicKey;
    throw configError(
      `signature checks need signing.publicKey (or AUREN_SIGNING_PUBLIC_KEY) or the local key pair in ${LOCAL_SIGNING_DIR}/, and there is neither`,
      'Push to the embedded registry first (docker-push makes the key pair and signs), or point signing.publicKey in nx.json (or AUREN_SIGNING_PUBLIC_KEY) at cosign.pub or a KMS key.',
    );
  }
  if (!signing.publicKey) {
    throw configError(
      'signature checks need signing.publicKey (or AUREN_SIGNING_PUBLIC_KEY), and none is configured',
      'Point signing.publicKey in nx.json at cosign.pub (the public half of the signing key), or at the KMS key reference.',
    );
  }
  return resolveKey(signing.publicKey, workspaceRoot, 'signing.publicKey');
}

/**
 * The hint cosign writes into a bundle it signs with this key (base64 SHA-256 of the public key,
 * DER): a bundle with another hint was signed with another key, and cosign verify with this key
 * could only refuse it. `undefined` when there is no key file to read (keyless, KMS, or a file
 * that is not a public key): then every bundle is verified.
 */
export function publicKeyHint(signing: SigningConfig, workspaceRoot: string): string | undefined {
  if (signing.mode !== 'key' && signing.mode !== 'local') return undefined;
  try {
    const file = verificationKey(signing, workspaceRoot);
    if (!file || isKeyReference(file)) return undefined;
    const der = createPublicKey(readFileSync(file)).export({ type: 'spki', format: 'der' });
    return createHash('sha256').update(der).digest('base64');
  } catch {
    return undefined;
  }
}

export async function verifyImage(input: VerifyInput): Promise<VerifyOutcome> {
  const env = input.env ?? process.env;
  const publicKey = verificationKey(input.signing, input.workspaceRoot);
  const cosign = await findCosign(env);
  const access = await cosignRegistryAccess(input.registry, input.insecureRegistries, { caFile: input.caFile, env });
  const args = verifyArgs(input.signing, publicKey, input.reference, access.flags);
  const run = input.exec ?? defaultExec;
  return withCosignAccess(input.registry, input.credentials, access.env, async (cosignEnv) => {
    const result = await run(cosign, args, { env: cosignEnv, okExitCodes: VERIFY_FAILURE_CODES, redact: secretsOf(env, input.credentials) });
    if (result.exitCode === 0) return { status: 'verified', reference: input.reference };
    const reason = lastError(result.stderr || result.stdout);
    if (/connection refused|no such host|i\/o timeout|TLS handshake/i.test(reason)) {
      throw new AurenError('registry', `cosign could not reach the registry to verify ${input.reference}: ${reason}`, 'Check that the registry is up and reachable.');
    }
    // On a TLS failure with a loopback registry cosign retries over plain HTTP, and reports that.
    if (/x509:|HTTP request to an HTTPS server/i.test(reason)) {
      throw new AurenError('registry', `cosign does not trust the TLS certificate of ${input.registry}, so ${input.reference} was not verified: ${reason}`,
        `Trust the registry's CA: \`caFile\` in the plugin options, certs.d/${input.registry}/ca.crt, or NODE_EXTRA_CA_CERTS.`);
    }
    return { status: 'unverified', reference: input.reference, reason };
  });
}

/** cosign ends with `Error: <why>` (and prints usage text on flag errors): keep the why. */
function lastError(text: string): string {
  const lines = text.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const error = [...lines].reverse().find((l) => l.startsWith('Error:'));
  return (error ?? lines.at(-1) ?? 'cosign verify failed').replace(/^Error:\s*/, '');
}
