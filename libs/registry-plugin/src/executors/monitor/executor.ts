import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { alertSummary, monitorOptionsFromNxJson, monitorRegistry } from '../../lib/monitor';
import { loadConfig, runExecutor } from '../shared/context';
import type { MonitorExecutorSchema } from './schema';

export default async function monitorExecutor(options: MonitorExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const env = process.env;
    const outcome = await monitorRegistry({
      config: loadConfig(context, env),
      monitor: monitorOptionsFromNxJson(context.nxJsonConfiguration),
      workspaceRoot: context.root,
      env,
      format: options.format,
      outputFile: options.output,
      window: options.window,
      concurrency: options.concurrency,
      log: (line) => logger.info(line),
    });
    if (outcome.written) logger.info(`monitor: ${options.format ?? 'text'} report written to ${outcome.written}`);
    else process.stdout.write(outcome.rendered);
    for (const line of alertSummary(outcome.alerts)) logger.error(line);
    return outcome.alerts.length === 0;
  });
}
