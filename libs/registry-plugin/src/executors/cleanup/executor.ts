import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { connectRegistry } from '../../lib/connect/connect';
import { cleanRegistry, normalizeCleanupOptions } from '../../lib/retention/run';
import { loadConfig, runExecutor } from '../shared/context';
import type { CleanupExecutorSchema } from './schema';

/** Retention cleanup: prints the plan; deletes only with --apply (and never under NX_DRY_RUN). */
export default async function cleanupExecutor(options: CleanupExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const config = loadConfig(context);
    const normalized = normalizeCleanupOptions(options, context.root, process.env);
    const client = await connectRegistry(config, process.env);
    const result = await cleanRegistry(client, config, normalized, {
      root: context.root,
      env: process.env,
      out: (text) => process.stdout.write(text + '\n'),
      log: (line) => (normalized.json ? process.stderr.write(line + '\n') : logger.info(line)),
    });
    const skipped = result.outcomes.filter((o) => o.outcome === 'skipped').length;
    if (skipped) logger.warn(`${skipped} deletions were skipped because tags changed during the run; run cleanup again later.`);
    return true;
  });
}
