import { logger, type ExecutorContext } from '@nx/devkit';
import { describeSkip, planDeployManifest, writeOverride, type DeployPlan, type PlanInput } from '../../lib/deploy';
import { inputError } from '../../lib/errors/errors';
import { runExecutor } from '../shared/context';
import type { DeployManifestExecutorSchema } from './schema';

export interface NormalizedDeployManifestOptions {
  composeFile: string;
  output: string;
  services: string[];
  failOnMissing: boolean;
}

export function normalizeOptions(options: DeployManifestExecutorSchema): NormalizedDeployManifestOptions {
  const services = Array.isArray(options.services) ? options.services : (options.services ?? '').split(',');
  return {
    composeFile: options.composeFile ?? 'docker-compose.prod.yml',
    output: options.output ?? 'dist/deploy/docker-compose.override.yml',
    services: services.map((s) => s.trim()).filter(Boolean),
    failOnMissing: options.failOnMissing ?? false,
  };
}

function report(plan: DeployPlan): void {
  for (const pin of plan.pinned) logger.info(`  ${pin.service} → ${pin.image}${pin.version ? ` (${pin.version})` : ''}`);
  for (const skip of plan.skipped) logger.warn(`  ${skip.service}: left out, ${describeSkip(skip.reason)} (${skip.record})`);
}

export default async function deployManifestExecutor(options: DeployManifestExecutorSchema, context: ExecutorContext) {
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
    const path = writeOverride(context.root, plan);
    logger.info(`deploy-manifest: pinned ${plan.pinned.length} service(s) in ${plan.output}` + (plan.skipped.length ? `, left out ${plan.skipped.length}` : ''));
    logger.verbose(`deploy-manifest: wrote ${path}`);
    return true;
  });
}
