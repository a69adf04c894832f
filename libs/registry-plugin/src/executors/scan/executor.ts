import { join } from 'node:path';
import { logger, type ExecutorContext } from '@nx/devkit';
import { openLayerCache } from '../../lib/layer-cache/layer-cache';
import { readImageRecord, repositoryPath } from '../../lib/pipeline/push';
import { scanImage } from '../../lib/scanners';
import { loadConfig, projectInfo, runExecutor } from '../shared/context';
import type { ScanExecutorSchema } from './schema';

export default async function scanExecutor(options: ScanExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const config = loadConfig(context);
    const project = projectInfo(context);
    const image = await readImageRecord(project.artifactDir, project.name);
    const policy = {
      ...config.scan,
      ...(options.scanner ? { scanner: options.scanner } : {}),
      ...(options.severity ? { severity: options.severity } : {}),
      ...(options.ignoreUnfixed !== undefined ? { ignoreUnfixed: options.ignoreUnfixed } : {}),
    };
    const outcome = await scanImage({
      layoutDir: join(project.artifactDir, 'oci'),
      imageRecord: image,
      imageName: `${config.registry}/${repositoryPath(config, project.name)}`,
      policy,
      budgets: config.budgets,
      registry: config.registry,
      reportDir: join(project.artifactDir, 'scan'),
      sourceUri: `${project.root}/Dockerfile`,
      allowRootUser: options.allowRootUser ?? false,
      layerCache: openLayerCache(context.root),
    });
    for (const line of outcome.summaryLines) logger.info(line);
    logger.info(`${project.name}: scan ${outcome.verdict} — report ${outcome.reportFiles.table}`);
    return outcome.verdict !== 'blocked';
  });
}
