import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { connectRegistry } from '../../lib/connect/connect';
import { collectGarbage } from '../../lib/retention/run';
import { isDryRun } from '../../lib/config/precedence';
import { loadConfig, runExecutor } from '../shared/context';
import type { GcExecutorSchema } from './schema';

/**
 * Garbage collection: for the embedded local registry, read-only restart → garbage-collect →
 * normal restart → verify every tag; for hosted registries, what their provider does instead.
 */
export default async function gcExecutor(options: GcExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const config = loadConfig(context);
    const client = await connectRegistry(config, process.env);
    await collectGarbage(client, { dryRun: isDryRun(options), json: options.json }, {
      root: context.root,
      env: process.env,
      out: (text) => process.stdout.write(text + '\n'),
      log: (line) => logger.info(line),
    });
    return true;
  });
}
