import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import type { AurenConfig, BuilderName } from '../../lib/config/options';
import { lastCommitTouching, readGitContext } from '../../lib/git';
import { buildImage, checkDockerfile, resolveBuildArgs, writeImageRecord } from '../../lib/pipeline/build';
import { connectRegistry } from '../../lib/connect/connect';
import { fetchRelease, type FetchOutcome } from '../../lib/pipeline/fetch';
import { repositoryPath } from '../../lib/pipeline/push';
import { resolveVersion } from '../../lib/pipeline/version';
import { exec } from '../../lib/exec/exec';
import { AurenError } from '../../lib/errors/errors';
import { formatBytes } from '../../lib/reports/format';
import { IMAGE_RECORD, imageDir, readRecordJson, type ImageRecord } from '../../lib/reports/records';
import { loadConfig, projectInfo } from '../shared/context';
import type { BuildOptions } from './schema';

export function normalizePlatforms(value: string[] | string | undefined): string[] {
  const list = Array.isArray(value) ? value : (value ?? '').split(',');
  return list.map((p) => p.trim()).filter(Boolean);
}

/** Repositories below the namespace that hold registry build caches, one per project. */
export const BUILD_CACHE_PREFIX = 'buildcache';

/** The repository a project's docker-push writes to (below the namespace). */
export function pushRepository(context: ExecutorContext, project: string): string {
  const options = context.projectsConfigurations.projects[project]?.targets?.['docker-push']?.options as { repository?: string } | undefined;
  return options?.repository ?? project;
}

/**
 * Images this project can build FROM, by repository: the image.json of every project it depends
 * on that pushes an image (Nx ran or restored their docker-build before this one).
 */
export function workspaceImages(context: ExecutorContext, config: AurenConfig, project: string): Record<string, string> {
  const images: Record<string, string> = {};
  for (const dep of context.projectGraph?.dependencies[project] ?? []) {
    if (!context.projectsConfigurations.projects[dep.target]?.targets?.['docker-push']) continue;
    const record = readRecordJson(join(context.root, imageDir(dep.target), IMAGE_RECORD), `Run \`nx run ${dep.target}:docker-build\` again.`) as ImageRecord | undefined;
    if (!record) continue;
    images[`${config.registry}/${repositoryPath(config, pushRepository(context, dep.target))}`] = record.digest;
  }
  return images;
}

function describeFetch(outcome: Exclude<FetchOutcome, { status: 'fetched' }>, version: string): string {
  switch (outcome.status) {
    case 'not-found':
      return `${outcome.reference} is not in the registry: building ${version}`;
    case 'label-mismatch':
      return `${outcome.reference} is labelled version ${outcome.found ?? '(none)'}, not ${version}: building`;
    default: {
      const unhandled: never = outcome;
      throw new Error(`unhandled fetch outcome ${JSON.stringify(unhandled)}`);
    }
  }
}

/** Build a project's image (the docker-build target): fetch the released version, else build it. */
export async function build(options: BuildOptions, context: ExecutorContext): Promise<boolean> {
  const env = process.env;
  const config = loadConfig(context, env);
  const project = projectInfo(context);
  const git = await readGitContext(context.root, env).catch(() => undefined);
  const resolved = git ? await resolveVersion(context.root, project, config, git) : undefined;
  const source = git ? await lastCommitTouching(context.root, project.inputRoots) : undefined;
  const dockerfile = options.dockerfile ?? `${project.root}/Dockerfile`;
  const images = workspaceImages(context, config, project.name);
  const released = resolved?.decision.bump === 'none' && resolved.decision.current !== undefined;
  // The Dockerfile is read even to fetch a release (for its base image); the context may be
  // made by the prebuild step, so buildImage checks it.
  checkDockerfile({ workspaceRoot: context.root, dockerfile, project });

  // A version with no new commits is already in the registry: fetch it instead of rebuilding,
  // so every machine converges on the released digest.
  if (released && !options.rebuild) {
    const repository = repositoryPath(config, pushRepository(context, project.name));
    const outcome = await connectRegistry(config, env)
      .then((client) => fetchRelease({ client, repository, version: resolved.version, outputDir: join(project.artifactDir, 'oci') }))
      .catch((error: unknown) => {
        // The push that follows needs the same registry: building first would only fail later,
        // minutes on, for the same reason (untrusted CA, refused credentials, registry down).
        const kind = error instanceof AurenError ? error.kind : 'registry';
        const hint = error instanceof AurenError && error.hint ? `${error.hint} ` : '';
        throw new AurenError(
          kind,
          `${project.name}: version ${resolved.version} is released, but ${config.registry}/${repository}:v${resolved.version} could not be read: ${error instanceof Error ? error.message : String(error)}`,
          `${hint}To build without reading the registry: nx run ${project.name}:docker-build --rebuild.`,
          { cause: error },
        );
      });
    if (outcome?.status === 'fetched') {
      const { baseImage } = await resolveBuildArgs({ workspaceRoot: context.root, dockerfile, config, buildArgs: options.buildArgs ?? {}, workspaceImages: images, source });
      const record = await writeImageRecord(project, outcome.layout, baseImage);
      logger.info(
        `${project.name}: version ${resolved.version} is released; fetched ${outcome.reference}@${record.digest} ` +
          `(${record.platforms.join(', ')}, ${formatBytes(outcome.bytes)}) instead of building. Use --rebuild to build it anyway.`,
      );
      return true;
    }
    if (outcome) logger.info(`${project.name}: ${describeFetch(outcome, resolved.version)}`);
  }

  // AUREN_PLATFORMS is how CI asks every build for more platforms (the release workflow sets it).
  const platforms = normalizePlatforms(env.AUREN_PLATFORMS?.trim() ? env.AUREN_PLATFORMS : options.platforms);
  if (options.prebuild?.length) {
    const [command, ...args] = options.prebuild;
    // It learns the platforms and the project's commit date (for reproducible file dates).
    const prebuildEnv = { ...env, AUREN_PLATFORMS: platforms.join(','), ...(source ? { SOURCE_DATE_EPOCH: String(Math.floor(source.date.getTime() / 1000)) } : {}) };
    await exec(command, args, { cwd: context.root, env: prebuildEnv, stream: true, timeoutMs: 30 * 60_000 });
  }
  // The registry layer cache lives in a repository of its own, so it never clutters image tags.
  // CI names the prefix for every build (AUREN_CACHE_REPO, e.g. <registry>/<ns>/buildcache).
  const cachePrefix = env.AUREN_CACHE_REPO?.trim() || `${config.registry}/${repositoryPath(config, BUILD_CACHE_PREFIX)}`;
  const registryCache = Boolean(env.AUREN_CACHE_REPO?.trim()) || options.registryCache === true;
  const cacheRepo = `${cachePrefix.replace(/\/+$/, '')}/${project.name}`;
  const record = await buildImage({
    workspaceRoot: context.root,
    project,
    config,
    dockerfile,
    context: options.context ?? project.root,
    builder: (options.builder ?? (env.AUREN_BUILDER as BuilderName | undefined) ?? config.builder) as BuilderName,
    platforms,
    buildArgs: options.buildArgs ?? {},
    labels: options.labels ?? {},
    target: options.target,
    cacheFrom: [...(options.cacheFrom ?? []), ...(registryCache ? [cacheRepo] : [])],
    cacheTo: [...(options.cacheTo ?? []), ...(registryCache ? [cacheRepo] : [])],
    source,
    version: resolved?.version,
    workspaceImages: images,
    verbose: options.verbose ?? true,
    env,
  });
  logger.info(
    `${project.name}: built ${record.digest} (${record.platforms.join(', ')}, ${formatBytes(record.size)}) with ${record.builder.name} ${record.builder.version}` +
      (resolved ? `, version ${resolved.version}` : '') +
      (record.baseImage ? `, FROM ${record.baseImage}` : ''),
  );
  return true;
}
