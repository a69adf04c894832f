import type { SigningConfig } from '../config/options';
import { cosignRegistryAccess, credentialSecrets, withCosignAccess } from '../connect/child-tools';
import { AurenError, configError } from '../errors/errors';
import { isPinnedReference } from '../registry/digest';
import { exec as defaultExec } from '../exec/exec';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import { findCosign, resolveKey, type CosignInput } from './cosign';

/**
 * Signs a pushed digest with the real cosign, in cosign's own format: cosign v3 writes a
 * Sigstore bundle as an OCI 1.1 referrer of the digest (artifactType
 * `application/vnd.dev.sigstore.bundle.v0.3+json`) and, on registries without the referrers API,
 * records it in the same `sha256-<hex>` fallback index as our SBOM. We never write that format
 * ourselves, and `cosign verify` is the judge (see verify.ts).
 *
 * Offline key signing needs `--use-signing-config=false` (v3 otherwise fetches Sigstore's signing
 * config over TUF) and `--tlog-upload=false` (no Rekor). A multi-platform image is signed at its
 * index: the index lists each platform's manifest by digest, so a verified index pins every
 * child, and deploys pin the index digest. Children are not signed separately (`--recursive`),
 * which would only matter to someone pulling a platform manifest by its own digest.
 *
 * Every digest is signed twice, with the same identity: once as that bundle, and once in cosign's
 * legacy format (a `sha256-<hex>.sig` tag). Admission controllers still read only the legacy
 * one for image signatures (policy-controller v0.13.1 refuses a bundle-only digest and refuses
 * `signatureFormat: bundle` for signatures), so without it a cluster would refuse what we sign.
 * Retention, monitor, promote and mirror already treat the `.sig` tag as attached to its subject.
 */

export type SignInput = CosignInput;

export type SignOutcome = { status: 'signed'; reference: string; mode: SigningConfig['mode'] } | { status: 'not-configured' };

/**
 * The same signature in cosign's legacy format. That format cannot go through a signing config,
 * so `--use-signing-config=false` is added where the bundle's argv did not already say it; the
 * transparency log choice is kept.
 */
export function legacySignArgs(bundleArgs: string[]): string[] {
  if (bundleArgs.length === 0) return [];
  const extra = ['--new-bundle-format=false', ...(bundleArgs.includes('--use-signing-config=false') ? [] : ['--use-signing-config=false'])];
  const yes = bundleArgs.indexOf('--yes');
  return [...bundleArgs.slice(0, yes), ...extra, ...bundleArgs.slice(yes)];
}

export function signArgs(signing: SigningConfig, key: string | undefined, reference: string, flags: string[]): string[] {
  switch (signing.mode) {
    case 'off':
    case 'local':
    case 'none':
      return [];
    case 'key':
      return [
        'sign',
        '--key',
        key ?? signing.key,
        ...(signing.tlog ? [] : ['--use-signing-config=false', '--tlog-upload=false']),
        '--yes',
        ...flags,
        reference,
      ];
    case 'keyless':
      return ['sign', '--yes', ...flags, reference];
    default: {
      const unhandled: never = signing;
      throw new Error(`unhandled signing mode ${String(unhandled)}`);
    }
  }
}

/** Checks what can be checked before anything is pushed: cosign present, key found, password set. */
export async function preflightSigning(signing: SigningConfig, workspaceRoot: string, env: NodeJS.ProcessEnv): Promise<void> {
  // The local key pair is made (or found missing with a warning) when the push signs: identity.ts.
  if (signing.mode === 'none' || signing.mode === 'off' || signing.mode === 'local') return;
  await findCosign(env);
  if (signing.mode === 'key') {
    const key = resolveKey(signing.key, workspaceRoot, 'signing.key');
    if (key === signing.key && /^[a-z0-9]+:\/\//.test(key)) return; // KMS: cosign authenticates itself
    if (env.COSIGN_PASSWORD === undefined) {
      throw configError(
        'COSIGN_PASSWORD is not set, and the cosign key file needs it',
        'Set COSIGN_PASSWORD to the key\'s password (an empty value for a key made without one); in CI, from a secret.',
      );
    }
  }
}

export function secretsOf(env: NodeJS.ProcessEnv, credentials: ResolvedCredentials | undefined): string[] {
  return [env.COSIGN_PASSWORD, ...credentialSecrets(credentials)].filter((s): s is string => !!s);
}

export async function signImage(input: SignInput): Promise<SignOutcome> {
  const env = input.env ?? process.env;
  const signing = input.signing;
  if (signing.mode !== 'key' && signing.mode !== 'keyless') return { status: 'not-configured' };
  if (!isPinnedReference(input.reference)) {
    throw new AurenError('internal', `refusing to sign ${input.reference}: sign by digest, never by tag`);
  }
  await preflightSigning(signing, input.workspaceRoot, env);
  const cosign = await findCosign(env);
  const key = signing.mode === 'key' ? resolveKey(signing.key, input.workspaceRoot, 'signing.key') : undefined;
  const access = await cosignRegistryAccess(input.registry, input.insecureRegistries, { caFile: input.caFile, env });
  const args = signArgs(signing, key, input.reference, access.flags);
  const run = input.exec ?? defaultExec;
  await withCosignAccess(input.registry, input.credentials, access.env, async (cosignEnv) => {
    // The two formats write different tags (the bundle goes into the `sha256-<hex>` fallback
    // index, the legacy signature is its own `.sig` tag), so they are written at the same time.
    // Both are awaited before any error is thrown: nothing runs on after the push reports.
    const results = await Promise.allSettled([args, legacySignArgs(args)].map((argv) => run(cosign, argv, { env: cosignEnv, redact: secretsOf(env, input.credentials) })));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) {
      throw new AurenError(
        'exec',
        `cosign could not sign ${input.reference}: ${(failed.reason as Error).message}`,
        'The image is pushed but not fully signed; fix the cause and run docker-push again (it pushes nothing new and signs).',
        { cause: failed.reason },
      );
    }
  });
  return { status: 'signed', reference: input.reference, mode: signing.mode };
}
