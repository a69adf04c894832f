import { logger, type ExecutorContext } from '@nx/devkit';
import type { BuilderName } from '../../lib/config/options';
import { readGitContext } from '../../lib/git';
import { buildImage } from '../../lib/pipeline/build';
import { resolveVersion } from '../../lib/pipeline/version';
import { formatBytes } from '../../lib/reports/format';
import { loadConfig, projectInfo, runExecutor } from '../shared/context';
import type { DockerBuildExecutorSchema } from './schema';

export function normalizePlatforms(value: string[] | string | undefined): string[] {
  const list = Array.isArray(value) ? value : (value ?? '').split(',');
  return list.map((p) => p.trim()).filter(Boolean);
}

export default async function dockerBuildExecutor(options: DockerBuildExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const env = process.env;
    const config = loadConfig(context, env);
    const project = projectInfo(context);
    const git = await readGitContext(context.root, env).catch(() => undefined);
    const version = git ? (await resolveVersion(context.root, project, config, git)).version : undefined;
    const record = await buildImage({
      workspaceRoot: context.root,
      project,
      config,
      dockerfile: options.dockerfile ?? `${project.root}/Dockerfile`,
      context: options.context ?? project.root,
      builder: (options.builder ?? (env.AUREN_BUILDER as BuilderName | undefined) ?? config.builder) as BuilderName,
      platforms: normalizePlatforms(options.platforms),
      buildArgs: options.buildArgs ?? {},
      labels: options.labels ?? {},
      target: options.target,
      cacheFrom: options.cacheFrom ?? [],
      cacheTo: options.cacheTo ?? [],
      git,
      version,
      verbose: options.verbose ?? true,
      env,
    });
    logger.info(
      `${project.name}: built ${record.digest} (${record.platforms.join(', ')}, ${formatBytes(record.size)}) with ${record.builder.name} ${record.builder.version}` +
        (version ? `, version ${version}` : ''),
    );
    return true;
  });
}
