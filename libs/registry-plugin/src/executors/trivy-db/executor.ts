import { isAbsolute, join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { AurenError } from '../../lib/errors/errors';
import { connectRegistry } from '../../lib/connect/connect';
import { parseImageReference } from '../../lib/registry/reference';
import { buildFixtureDb, mirrorTrivyDb, publishTrivyDb, TRIVY_DB_REPOSITORY, type PublishResult } from '../../lib/scanners';
import { isDryRun } from '../../lib/config/precedence';
import { loadConfig, runExecutor } from '../shared/context';
import type { TrivyDbExecutorSchema } from './schema';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** `nx run registry:trivy-db [--from=ghcr.io/aquasecurity/trivy-db:2] [--updatedAt=…] [--dryRun]` */
export default async function trivyDbExecutor(options: TrivyDbExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const env = process.env;
    const config = loadConfig(context, env);
    const dryRun = isDryRun(options, env);
    const repository = [config.namespace, TRIVY_DB_REPOSITORY].filter(Boolean).join('/');
    if (options.updatedAt !== undefined && !RFC3339.test(options.updatedAt)) {
      throw new AurenError('input', `--updatedAt "${options.updatedAt}" is not an RFC 3339 time`, 'Write it like 2026-11-30T06:00:00Z.');
    }
    const target = await connectRegistry(config, env);
    let result: PublishResult;
    if (options.from?.trim()) {
      const from = options.from.trim();
      const source = parseImageReference(from);
      logger.info(`trivy-db: mirror ${from} → ${config.registry}/${repository}:2${dryRun ? ' (dry run)' : ''}`);
      result = await mirrorTrivyDb(await connectRegistry(config, env, source.registry), from, target, repository, { dryRun });
    } else {
      const file = options.advisories?.trim() || 'tools/trivy-db/advisories.json';
      const advisoriesFile = isAbsolute(file) ? file : join(context.root, file);
      const db = await buildFixtureDb({ workspaceRoot: context.root, advisoriesFile, updatedAt: options.updatedAt, env });
      logger.info(`trivy-db: built from ${file}: ${db.advisories} advisories, UpdatedAt ${db.updatedAt}, ${db.layer.length} bytes`);
      result = await publishTrivyDb(target, repository, db, { dryRun });
    }
    const where = `${config.registry}/${result.repository}:${result.tag}@${result.digest}`;
    const said = { published: `published ${where}`, unchanged: `${where} is already there; nothing pushed`, planned: `would publish ${where} (dry run)` };
    logger.info(`trivy-db: ${said[result.status]}`);
    if (result.status !== 'planned') logger.info(`trivy-db: \`scan\` now passes --db-repository ${config.registry}/${result.repository} to trivy`);
    return true;
  });
}
