import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { checkDeployGate, describeSkip, planDeployManifest, readPushRecord, refusalError, writeOverride, type DeployPlan, type PlanInput } from '../../lib/deploy';
import { inputError } from '../../lib/errors/errors';
import { credentialsFor } from '../../lib/connect/connect';
import type { ProvenanceExpectations } from '../../lib/supply-chain/provenance';
import { verificationKey } from '../../lib/supply-chain/verify';
import { loadConfig, runExecutor } from '../shared/context';
import type { DeployManifestExecutorSchema } from './schema';

export interface NormalizedDeployManifestOptions {
  composeFile: string;
  output: string;
  services: string[];
  failOnMissing: boolean;
  requireSignature: boolean;
  /** The provenance's expectations, when requireProvenance is on. */
  requireProvenance: ProvenanceExpectations | undefined;
}

export function normalizeOptions(options: DeployManifestExecutorSchema): NormalizedDeployManifestOptions {
  const services = Array.isArray(options.services) ? options.services : (options.services ?? '').split(',');
  return {
    composeFile: options.composeFile ?? 'docker-compose.prod.yml',
    output: options.output ?? 'dist/deploy/docker-compose.override.yml',
    services: services.map((s) => s.trim()).filter(Boolean),
    failOnMissing: options.failOnMissing ?? false,
    requireSignature: options.requireSignature ?? false,
    requireProvenance: options.requireProvenance
      ? { ...(options.sourceRepository ? { sourceRepository: options.sourceRepository } : {}), ...(options.builderId ? { builderId: options.builderId } : {}) }
      : undefined,
  };
}

function report(plan: DeployPlan): void {
  for (const pin of plan.pinned) logger.info(`  ${pin.service} → ${pin.image}${pin.version ? ` (${pin.version})` : ''}`);
  for (const skip of plan.skipped) logger.warn(`  ${skip.service}: left out, ${describeSkip(skip.reason)} (${skip.record})`);
}

export default async function deployManifestExecutor(
  options: DeployManifestExecutorSchema,
  context: ExecutorContext,
  env: NodeJS.ProcessEnv = process.env,
) {
  return runExecutor(async () => {
    const normalized = normalizeOptions(options);
    const input: PlanInput = {
      workspaceRoot: context.root,
      ...normalized,
      projects: Object.keys(context.projectsConfigurations?.projects ?? {}),
    };
    const plan = planDeployManifest(input);
    report(plan);
    if (normalized.failOnMissing && plan.skipped.length) {
      throw inputError(
        `no usable push record for ${plan.skipped.map((s) => s.service).join(', ')}`,
        `Push them first (nx run-many -t docker-push -p ${plan.skipped.map((s) => s.service).join(' ')}), or drop --failOnMissing to leave them out.`,
      );
    }
    if (!normalized.requireProvenance && (options.sourceRepository || options.builderId)) {
      throw inputError('sourceRepository and builderId only apply with requireProvenance', 'Add --requireProvenance, or drop them.');
    }
    if (normalized.requireSignature || normalized.requireProvenance) {
      const config = loadConfig(context, env);
      // Without a public key nothing can be verified: say so before contacting the registry.
      const publicKey = verificationKey(config.signing, context.root);
      const pinned = plan.pinned.map((pin) => {
        const record = readPushRecord(context.root, pin.service);
        return { ...pin, registry: record?.registry ?? config.registry, scanVerdict: record?.scan?.verdict };
      });
      const gate = await checkDeployGate({
        pinned,
        config,
        workspaceRoot: context.root,
        env,
        credentials: (registry) => credentialsFor(registry, config, env),
        requireSignature: normalized.requireSignature,
        requireProvenance: normalized.requireProvenance,
      });
      if (gate.refused.length) throw refusalError(gate.refused, publicKey);
      const by = publicKey ?? 'the keyless identity';
      if (normalized.requireSignature) logger.info(`deploy-manifest: ${gate.verified.length} signature(s) verified with ${by}`);
      if (normalized.requireProvenance) logger.info(`deploy-manifest: ${gate.provenance.length} SLSA provenance attestation(s) verified with ${by}`);
    }
    const path = writeOverride(context.root, plan);
    logger.info(`deploy-manifest: pinned ${plan.pinned.length} service(s) in ${plan.output}` + (plan.skipped.length ? `, left out ${plan.skipped.length}` : ''));
    logger.verbose(`deploy-manifest: wrote ${path}`);
    return true;
  });
}
