import type { AurenConfig } from '../config/options';
import { AurenError } from '../errors/errors';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import type { ScanVerdict } from '../reports/records';
import { verifyProvenance, type ProvenanceVerification } from '../supply-chain/attest';
import type { ProvenanceExpectations } from '../supply-chain/provenance';
import { verifyImage, type VerifyOutcome } from '../supply-chain/verify';
import type { PinnedService } from './manifest';

/**
 * The deploy gate, before a digest goes into a deploy manifest:
 * - `requireSignature`: the real `cosign verify` must accept its signature with the public key
 *   (configured, or the local key pair's), and its scan must not have blocked it (nor be missing);
 * - `requireProvenance`: the real `cosign verify-attestation --type slsaprovenance1` must accept
 *   its SLSA provenance with the same key, and the statement must be about this digest, from the
 *   expected source repository and by the expected builder, when those are given.
 * Every pinned service is checked, so one run lists every problem.
 */

export type GateRefusal = {
  service: string;
  image: string;
  reason: 'unsigned' | 'scan-blocked' | 'not-scanned' | 'no-provenance';
  detail: string;
};

export interface GateInput {
  pinned: Array<PinnedService & { registry: string; scanVerdict: ScanVerdict | undefined }>;
  config: AurenConfig;
  workspaceRoot: string;
  env: NodeJS.ProcessEnv;
  credentials: (registry: string) => Promise<ResolvedCredentials | undefined>;
  /** Default true (the gate's first job). */
  requireSignature?: boolean;
  /** Check the provenance too, against these expectations. */
  requireProvenance?: ProvenanceExpectations;
  verify?: (input: Parameters<typeof verifyImage>[0]) => Promise<VerifyOutcome>;
  verifyProvenance?: (input: Parameters<typeof verifyProvenance>[0]) => Promise<ProvenanceVerification>;
}

export interface GateResult {
  verified: string[];
  /** Services whose provenance verified (when required). */
  provenance: string[];
  refused: GateRefusal[];
}

export async function checkDeployGate(input: GateInput): Promise<GateResult> {
  const verify = input.verify ?? verifyImage;
  const attested = input.verifyProvenance ?? verifyProvenance;
  const requireSignature = input.requireSignature ?? true;
  const result: GateResult = { verified: [], provenance: [], refused: [] };
  for (const pin of input.pinned) {
    const common = {
      reference: pin.image,
      registry: pin.registry,
      insecureRegistries: input.config.insecureRegistries,
      caFile: input.config.caFile,
      signing: input.config.signing,
      workspaceRoot: input.workspaceRoot,
      credentials: await input.credentials(pin.registry),
      env: input.env,
    };
    if (requireSignature) {
      if (pin.scanVerdict === 'blocked') {
        result.refused.push({ service: pin.service, image: pin.image, reason: 'scan-blocked', detail: 'its scan verdict is "blocked"' });
        continue;
      }
      if (pin.scanVerdict === undefined || pin.scanVerdict === 'not-scanned') {
        result.refused.push({ service: pin.service, image: pin.image, reason: 'not-scanned', detail: 'it was pushed without a vulnerability scan' });
        continue;
      }
      const outcome = await verify(common);
      if (outcome.status === 'verified') result.verified.push(pin.service);
      else result.refused.push({ service: pin.service, image: pin.image, reason: 'unsigned', detail: `cosign verify refused it: ${outcome.reason}` });
    }
    if (input.requireProvenance) {
      const outcome = await attested({ ...common, expect: input.requireProvenance });
      if (outcome.status === 'verified') result.provenance.push(pin.service);
      else result.refused.push({ service: pin.service, image: pin.image, reason: 'no-provenance', detail: `no valid provenance: ${outcome.reason}` });
    }
  }
  return result;
}

export function refusalError(refused: GateRefusal[], publicKey: string | undefined): AurenError {
  const lines = refused.map((r) => `  ${r.service} (${r.image}): ${r.detail}`);
  const unsigned = refused.some((r) => r.reason === 'unsigned');
  const scan = refused.some((r) => r.reason === 'scan-blocked' || r.reason === 'not-scanned');
  const provenance = refused.some((r) => r.reason === 'no-provenance');
  const key = publicKey ?? 'signing.publicKey';
  const hints = [
    ...(unsigned ? [`Sign with the key whose public half is ${key}: configure signing.key (or push to the embedded registry, which signs with the local key pair) and run docker-push again (it signs what is already pushed).`] : []),
    ...(scan ? ['Fix the findings (see dist/images/<app>/scan/report.txt) or scan the image, then push again.'] : []),
    ...(provenance ? [`Provenance is attested by docker-push for images built by docker-build, with the key whose public half is ${key}; rebuild (nx run <app>:docker-build --rebuild) and push, or check --sourceRepository and --builderId.`] : []),
  ];
  const what = [...(refused.some((r) => r.reason !== 'no-provenance') ? ['requireSignature'] : []), ...(provenance ? ['requireProvenance'] : [])].join(', ');
  return new AurenError(
    'policy',
    `${what}: refusing to pin ${new Set(refused.map((r) => r.service)).size} image(s); nothing was written:\n${lines.join('\n')}`,
    hints.join(' '),
  );
}
