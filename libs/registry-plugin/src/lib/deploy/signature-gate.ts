import type { AurenConfig } from '../config/options';
import { AurenError } from '../errors/errors';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import type { ScanVerdict } from '../reports/records';
import { verifyImage, type VerifyOutcome } from '../supply-chain/verify';
import type { PinnedService } from './manifest';

/**
 * `requireSignature`: before a digest goes into a deploy manifest, the real `cosign verify`
 * must accept its signature with the configured public key, and its scan must not have blocked
 * it (nor be missing). Every pinned service is checked, so one run lists every problem.
 */

export type GateRefusal =
  | { service: string; image: string; reason: 'unsigned'; detail: string }
  | { service: string; image: string; reason: 'scan-blocked' | 'not-scanned'; detail: string };

export interface GateInput {
  pinned: Array<PinnedService & { registry: string; scanVerdict: ScanVerdict | undefined }>;
  config: AurenConfig;
  workspaceRoot: string;
  env: NodeJS.ProcessEnv;
  credentials: (registry: string) => Promise<ResolvedCredentials | undefined>;
  verify?: (input: Parameters<typeof verifyImage>[0]) => Promise<VerifyOutcome>;
}

export interface GateResult {
  verified: string[];
  refused: GateRefusal[];
}

export async function checkDeployGate(input: GateInput): Promise<GateResult> {
  const verify = input.verify ?? verifyImage;
  const result: GateResult = { verified: [], refused: [] };
  for (const pin of input.pinned) {
    if (pin.scanVerdict === 'blocked') {
      result.refused.push({ service: pin.service, image: pin.image, reason: 'scan-blocked', detail: 'its scan verdict is "blocked"' });
      continue;
    }
    if (pin.scanVerdict === undefined || pin.scanVerdict === 'not-scanned') {
      result.refused.push({ service: pin.service, image: pin.image, reason: 'not-scanned', detail: 'it was pushed without a vulnerability scan' });
      continue;
    }
    const outcome = await verify({
      reference: pin.image,
      registry: pin.registry,
      insecureRegistries: input.config.insecureRegistries,
      signing: input.config.signing,
      workspaceRoot: input.workspaceRoot,
      credentials: await input.credentials(pin.registry),
      env: input.env,
    });
    if (outcome.status === 'verified') result.verified.push(pin.service);
    else result.refused.push({ service: pin.service, image: pin.image, reason: 'unsigned', detail: `cosign verify refused it: ${outcome.reason}` });
  }
  return result;
}

export function refusalError(refused: GateRefusal[], publicKey: string | undefined): AurenError {
  const lines = refused.map((r) => `  ${r.service} (${r.image}): ${r.detail}`);
  const unsigned = refused.some((r) => r.reason === 'unsigned');
  const scan = refused.some((r) => r.reason !== 'unsigned');
  const hints = [
    ...(unsigned ? [`Sign with the key whose public half is ${publicKey ?? 'signing.publicKey'}: configure signing.key and run docker-push again (it signs what is already pushed).`] : []),
    ...(scan ? ['Fix the findings (see dist/images/<app>/scan/report.txt) or scan the image, then push again.'] : []),
  ];
  return new AurenError(
    'policy',
    `requireSignature: refusing to pin ${refused.length} image(s); nothing was written:\n${lines.join('\n')}`,
    hints.join(' '),
  );
}
