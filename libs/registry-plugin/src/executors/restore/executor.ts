import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { connectRegistry } from '../../lib/connect/connect';
import { restoreRegistry } from '../../lib/retention/run';
import { loadConfig, runExecutor } from '../shared/context';
import type { RestoreExecutorSchema } from './schema';

/** Puts back what a cleanup deleted, from its undo journal (until garbage collection runs). */
export default async function restoreExecutor(options: RestoreExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const config = loadConfig(context);
    const client = await connectRegistry(config, process.env);
    const result = await restoreRegistry(client, options, {
      root: context.root,
      env: process.env,
      out: (text) => process.stdout.write(text + '\n'),
      log: (line) => logger.info(line),
    });
    return result.items.every((i) => i.outcome !== 'blobs-gone');
  });
}
