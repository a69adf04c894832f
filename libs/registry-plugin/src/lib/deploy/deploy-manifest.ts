import type { AurenConfig } from '../config/options';
import { splitList } from '../config/lists';
import { credentialsFor } from '../connect/connect';
import { inputError, type AurenError } from '../errors/errors';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import type { ProvenanceExpectations } from '../supply-chain/provenance';
import { verificationKey } from '../supply-chain/verify';
import { describeSkip, planDeployManifest, readPushRecord, writeOverride, type DeployPlan } from './manifest';
import { checkDeployGate, type GateRefusal, type GateResult } from './signature-gate';

/**
 * deploy-manifest's options, declared here once: the executor's schema.d.ts re-exports this type,
 * and a workspace test checks that it names exactly the properties of the executor's schema.json.
 */
export interface DeployManifestOptions {
  /** Production compose file whose services are pinned, relative to the workspace root. */
  composeFile?: string;
  /** Override file to write, relative to the workspace root. */
  output?: string;
  /** Only pin these services (a list, or names separated by commas); default: every app service. */
  services?: string[] | string;
  /** Fail when an app service has no usable push record, instead of leaving it out. */
  failOnMissing?: boolean;
  /** Refuse unless every pinned digest's signature verifies with signing.publicKey (or the local key pair's) and its scan did not block it. */
  requireSignature?: boolean;
  /** Refuse unless every pinned digest has SLSA v1 provenance that verifies with the same key. */
  requireProvenance?: boolean;
  /** With requireProvenance: the git repository the provenance must name as its source. */
  sourceRepository?: string;
  /** With requireProvenance: the exact builder id the provenance must name. */
  builderId?: string;
}

export interface NormalizedDeployManifestOptions {
  composeFile: string;
  output: string;
  services: string[];
  failOnMissing: boolean;
  requireSignature: boolean;
  /** The provenance's expectations, when requireProvenance is on. */
  requireProvenance: ProvenanceExpectations | undefined;
}

export function normalizeDeployManifestOptions(options: DeployManifestOptions): NormalizedDeployManifestOptions {
  if (!options.requireProvenance && (options.sourceRepository || options.builderId)) {
    throw inputError('sourceRepository and builderId only apply with requireProvenance', 'Add --requireProvenance, or drop them.');
  }
  return {
    composeFile: options.composeFile ?? 'docker-compose.prod.yml',
    output: options.output ?? 'dist/deploy/docker-compose.override.yml',
    services: splitList(options.services),
    failOnMissing: options.failOnMissing ?? false,
    requireSignature: options.requireSignature ?? false,
    requireProvenance: options.requireProvenance
      ? { ...(options.sourceRepository ? { sourceRepository: options.sourceRepository } : {}), ...(options.builderId ? { builderId: options.builderId } : {}) }
      : undefined,
  };
}

export interface DeployManifestInput {
  workspaceRoot: string;
  /** Projects the workspace builds images for; a compose service with the same name is an app. */
  projects: string[];
  options: NormalizedDeployManifestOptions;
  /**
   * The plugin's configuration, read only when a signature or provenance is checked: an override
   * that only pins digests does not depend on the registry's settings.
   */
  config: () => AurenConfig;
}

export interface DeployManifestIo {
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  warn: (line: string) => void;
  /** Default: `credentialsFor` (the configured registry's, or what docker holds for another). */
  credentials?: (registry: string, config: AurenConfig, env: NodeJS.ProcessEnv) => Promise<ResolvedCredentials | undefined>;
}

export type DeployManifestResult =
  | {
      status: 'written';
      plan: DeployPlan;
      /** Absolute path of the override written. */
      path: string;
      /** The signature and provenance checks, when asked for. */
      gate: (GateResult & { verifiedWith: string }) | undefined;
    }
  /** failOnMissing, and these app services have no usable push record: nothing written. */
  | { status: 'missing'; plan: DeployPlan; services: string[] }
  /** The gate refused these digests: nothing written. */
  | { status: 'refused'; plan: DeployPlan; refused: GateRefusal[]; publicKey: string | undefined };

/**
 * The deploy-manifest use case: pin each app service of the compose file to the digest its push
 * record names, after the signature and provenance gate when asked for. The plan is logged first.
 */
export async function deployManifest(input: DeployManifestInput, io: DeployManifestIo): Promise<DeployManifestResult> {
  const { workspaceRoot, options } = input;
  const plan = planDeployManifest({ workspaceRoot, ...options, projects: input.projects });
  for (const pin of plan.pinned) io.log(`  ${pin.service} → ${pin.image}${pin.version ? ` (${pin.version})` : ''}`);
  for (const skip of plan.skipped) io.warn(`  ${skip.service}: left out, ${describeSkip(skip.reason)} (${skip.record})`);
  if (options.failOnMissing && plan.skipped.length) return { status: 'missing', plan, services: plan.skipped.map((s) => s.service) };
  let gate: (GateResult & { verifiedWith: string }) | undefined;
  if (options.requireSignature || options.requireProvenance) {
    const config = input.config();
    const env = io.env;
    // Without a public key nothing can be verified: say so before contacting the registry.
    const publicKey = verificationKey(config.signing, workspaceRoot);
    const pinned = plan.pinned.map((pin) => {
      const record = readPushRecord(workspaceRoot, pin.service);
      return { ...pin, registry: record?.registry ?? config.registry, scanVerdict: record?.scan?.verdict };
    });
    const credentials = io.credentials ?? credentialsFor;
    const checked = await checkDeployGate({
      pinned,
      config,
      workspaceRoot,
      env,
      credentials: (registry) => credentials(registry, config, env),
      requireSignature: options.requireSignature,
      requireProvenance: options.requireProvenance,
    });
    if (checked.refused.length) return { status: 'refused', plan, refused: checked.refused, publicKey };
    gate = { ...checked, verifiedWith: publicKey ?? 'the keyless identity' };
  }
  return { status: 'written', plan, path: writeOverride(workspaceRoot, plan), gate };
}

export function missingRecordsError(services: string[]): AurenError {
  return inputError(
    `no usable push record for ${services.join(', ')}`,
    `Push them first (nx run-many -t docker-push -p ${services.join(' ')}), or drop --failOnMissing to leave them out.`,
  );
}
