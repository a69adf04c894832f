import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { repositoryOfProject } from '../../lib/config/repository';
import { normalizeScanImageOptions, scanImage, scanSummary } from '../../lib/pipeline/scan-image';
import { loadConfig, projectInfo } from '../shared/context';
import type { ScanOptions } from './schema';

/** The scan target: lib/pipeline/scan-image.ts scans the built image; false when the gate blocks it. */
export async function scan(options: ScanOptions, context: ExecutorContext): Promise<boolean> {
  const env = process.env;
  const info = projectInfo(context);
  const project = { ...info, repository: repositoryOfProject(context.projectsConfigurations.projects, info.name) };
  const normalized = normalizeScanImageOptions(options, { workspaceRoot: context.root, project, config: loadConfig(context, env) }, env);
  const result = await scanImage(normalized, { env, now: new Date() });
  const { info: lines, warn } = scanSummary(project.name, result);
  for (const line of lines) logger.info(line);
  if (warn) logger.warn(warn);
  return result.outcome.verdict !== 'blocked';
}
