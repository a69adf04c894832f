import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { deployManifest, missingRecordsError, normalizeDeployManifestOptions, refusalError } from '../../lib/deploy';
import { loadConfig, runExecutor } from '../shared/context';
import type { DeployManifestExecutorSchema } from './schema';

/** Pins each app service of the production compose file to its pushed digest (the deploy-manifest target). */
export default async function deployManifestExecutor(
  options: DeployManifestExecutorSchema,
  context: ExecutorContext,
  env: NodeJS.ProcessEnv = process.env,
) {
  return runExecutor(async () => {
    const normalized = normalizeDeployManifestOptions(options);
    const result = await deployManifest(
      {
        workspaceRoot: context.root,
        projects: Object.keys(context.projectsConfigurations?.projects ?? {}),
        options: normalized,
        config: () => loadConfig(context, env),
      },
      { env, log: logger.info, warn: logger.warn },
    );
    switch (result.status) {
      case 'missing':
        throw missingRecordsError(result.services);
      case 'refused':
        throw refusalError(result.refused, result.publicKey);
      case 'written': {
        const { plan, gate } = result;
        if (gate && normalized.requireSignature) logger.info(`deploy-manifest: ${gate.verified.length} signature(s) verified with ${gate.verifiedWith}`);
        if (gate && normalized.requireProvenance) logger.info(`deploy-manifest: ${gate.provenance.length} SLSA provenance attestation(s) verified with ${gate.verifiedWith}`);
        logger.info(`deploy-manifest: pinned ${plan.pinned.length} service(s) in ${plan.output}` + (plan.skipped.length ? `, left out ${plan.skipped.length}` : ''));
        logger.verbose(`deploy-manifest: wrote ${result.path}`);
        return true;
      }
      default: {
        const unhandled: never = result;
        throw new Error(`unhandled deploy-manifest result ${String(unhandled)}`);
      }
    }
  });
}
