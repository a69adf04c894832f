import { isLoopbackRegistry, type SigningConfig } from '../config/options';
import { which } from '../exec/exec';
import { describeSigning } from './cosign';
import { ensureLocalKeyPair, LOCAL_SIGNING_DIR, readLocalKeyPair, readLocalKeyPassword } from './local-key';
import type { ExecFn } from './sbom';

/**
 * Who signs a push, decided once per push and shared by the signature and the provenance, so
 * both carry the same identity:
 * - a configured key (file or KMS) or keyless identity, as configured;
 * - nothing configured and a loopback registry (the embedded one): the workspace's local key
 *   pair, made on first use (local-key.ts), its password handed to cosign in the environment;
 * - nothing configured and another registry: nobody. A key that exists on one workstation only
 *   would sign images in a shared registry that no other machine can verify, so a shared
 *   registry needs a team key, KMS or keyless (README, "Supply chain").
 * - `signing: false`, or only a public key (a machine that verifies): nobody.
 */

export type ActiveSigning = Extract<SigningConfig, { mode: 'key' } | { mode: 'keyless' }>;

export interface ActiveIdentity {
  status: 'active';
  signing: ActiveSigning;
  /** cosign's environment: COSIGN_PASSWORD set for the local key pair. */
  env: NodeJS.ProcessEnv;
  origin: 'configured' | 'local';
  /** The local key pair was made by this push. */
  created: boolean;
  describe: string;
}

export type SigningIdentity =
  | ActiveIdentity
  | {
      /** The local key pair is not there yet and was not made (`deferLocalKey`): `make()` makes it. */
      status: 'unmade';
      make: () => Promise<ActiveIdentity>;
    }
  | {
      status: 'inactive';
      reason: string;
      /** Worth a warning: the user did not choose this (signing: false is a choice). */
      warn: boolean;
    };

export interface ResolveIdentityInput {
  signing: SigningConfig;
  registry: string;
  workspaceRoot: string;
  env: NodeJS.ProcessEnv;
  exec?: ExecFn;
  /**
   * The local key pair only: when it is not there yet, leave it unmade (`unmade`), for a push
   * that may sign nothing (a release another machine built and signed), so such a machine holds
   * no private key it never used.
   */
  deferLocalKey?: boolean;
}

export async function resolveSigningIdentity(input: ResolveIdentityInput): Promise<SigningIdentity> {
  const { signing, env } = input;
  switch (signing.mode) {
    case 'key':
    case 'keyless':
      return { status: 'active', signing, env, origin: 'configured', created: false, describe: describeSigning(signing) };
    case 'off':
      return { status: 'inactive', reason: 'signing is off (signing: false in nx.json)', warn: false };
    case 'none':
      return { status: 'inactive', reason: 'only signing.publicKey is configured: this machine verifies, it does not sign', warn: true };
    case 'local': {
      if (!isLoopbackRegistry(input.registry)) {
        return {
          status: 'inactive',
          reason: `no signing is configured for ${input.registry}; the local key pair signs only pushes to a loopback registry. Configure signing.key (a key file or KMS) or keyless signing, or set signing: false`,
          warn: true,
        };
      }
      if (!(await which('cosign', env))) {
        return {
          status: 'inactive',
          reason: '`cosign` is not installed (not on PATH). `bash tools/scripts/setup.sh` provisions it into tools/.bin',
          warn: true,
        };
      }
      const make = () => localIdentity(input);
      // A damaged pair is reported here, as before, whether or not it is made now.
      if (input.deferLocalKey && !readLocalKeyPair(input.workspaceRoot)) return { status: 'unmade', make };
      return make();
    }
    default: {
      const unhandled: never = signing;
      throw new Error(`unhandled signing mode ${JSON.stringify(unhandled)}`);
    }
  }
}

/** The local key pair's identity, the pair made first if it is not there. */
async function localIdentity(input: ResolveIdentityInput): Promise<ActiveIdentity> {
  const { pair, created } = await ensureLocalKeyPair({ workspaceRoot: input.workspaceRoot, env: input.env, exec: input.exec });
  const password = await readLocalKeyPassword(pair);
  return {
    status: 'active',
    signing: { mode: 'key', key: pair.key, publicKey: pair.publicKey, tlog: false },
    env: { ...input.env, COSIGN_PASSWORD: password },
    origin: 'local',
    created,
    describe: `the local key pair (${LOCAL_SIGNING_DIR}/cosign.pub)`,
  };
}
