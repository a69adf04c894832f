import { join } from 'node:path';
import type { AurenConfig } from '../config/options';
import { buildSettings, type BuildSettings, type BuildTargetOptions } from '../config/precedence';
import { imageName, repositoryPath } from '../config/repository';
import { connectRegistry } from '../connect/connect';
import { AurenError } from '../errors/errors';
import type { ExecOptions, ExecResult } from '../exec/exec';
import { isWorkTree, lastCommitTouching, readGitContext, type SourceCommit } from '../git';
import { formatBytes } from '../reports/format';
import { IMAGE_RECORD, imageDir, readRecordJson, type ImageRecord } from '../reports/records';
import { checkDockerfile, resolveBuildArgs, runBuilder, writeImageRecord } from './build';
import { fetchRelease, type FetchOutcome } from './fetch';
import { resolveVersion, type ResolvedVersion } from './version';

/**
 * The docker-build target's options, declared here once: the image executor's schema.d.ts
 * composes its options from this type and the scan's.
 */
export interface BuildImageTargetOptions extends BuildTargetOptions {
  /** Dockerfile path relative to the workspace root; default: <projectRoot>/Dockerfile. */
  dockerfile?: string;
  /** Build context relative to the workspace root; default: the project root. */
  context?: string;
  /** Extra --build-arg values; they win over the base-image mapping. */
  buildArgs?: Record<string, string>;
  /** Extra image labels, added to the org.opencontainers.image.* ones. */
  labels?: Record<string, string>;
  /** Multi-stage target to build. */
  target?: string;
  /** Registry build cache to read: a repository for buildah, a ref for docker buildx. */
  cacheFrom?: string[];
  /** Registry build cache to write: a repository for buildah, a ref for docker buildx. */
  cacheTo?: string[];
  /** Stream the builder's output; default: true. */
  verbose?: boolean;
  /** A command (argv array, run in the workspace root) that prepares the context, run only when the image is really built. */
  prebuild?: string[];
  /** Build even when the version is already released, instead of fetching it from the registry. */
  rebuild?: boolean;
}

export interface BuildProject {
  name: string;
  root: string;
  /** Absolute folder of the project's image artifacts. */
  artifactDir: string;
  /** The project's root and the roots of everything it depends on. */
  inputRoots: string[];
  /** Its repository below the namespace (lib/config/repository.ts). */
  repository: string;
}

/** Every option decided: defaults applied and the precedence rule followed. */
export interface BuildImageOptions {
  workspaceRoot: string;
  project: BuildProject;
  config: AurenConfig;
  settings: BuildSettings;
  dockerfile: string;
  context: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target: string | undefined;
  cacheFrom: string[];
  cacheTo: string[];
  verbose: boolean;
  prebuild: string[];
  rebuild: boolean;
  /**
   * Projects this one depends on that push an image, by repository: the image.json Nx built or
   * restored for each before this build pins a base image to its digest.
   */
  dependencies: Array<{ project: string; repository: string }>;
}

export interface BuildImageIo {
  env: NodeJS.ProcessEnv;
  /** Progress lines (why a release is built rather than fetched). */
  log: (line: string) => void;
  /** Runs the prebuild command. */
  exec: (file: string, args: readonly string[], options: ExecOptions) => Promise<ExecResult>;
}

export type BuildImageResult =
  | { status: 'fetched'; record: ImageRecord; reference: string; bytes: number; version: string }
  | { status: 'built'; record: ImageRecord; version: string | undefined };

export function normalizeBuildImageOptions(
  options: BuildImageTargetOptions,
  input: { workspaceRoot: string; project: BuildProject; config: AurenConfig; dependencies: BuildImageOptions['dependencies']; env: NodeJS.ProcessEnv },
): BuildImageOptions {
  const settings = buildSettings(options, input.config, input.project.name, input.env);
  const cache = settings.cacheRepository ? [settings.cacheRepository] : [];
  return {
    workspaceRoot: input.workspaceRoot,
    project: input.project,
    config: input.config,
    settings,
    dockerfile: options.dockerfile ?? `${input.project.root}/Dockerfile`,
    context: options.context ?? input.project.root,
    buildArgs: options.buildArgs ?? {},
    labels: options.labels ?? {},
    target: options.target,
    cacheFrom: [...(options.cacheFrom ?? []), ...cache],
    cacheTo: [...(options.cacheTo ?? []), ...cache],
    verbose: options.verbose ?? true,
    prebuild: options.prebuild ?? [],
    rebuild: options.rebuild ?? false,
    dependencies: input.dependencies,
  };
}

/** Images this project can build FROM, by repository: the image.json of each dependency that pushes one. */
function workspaceImages(options: BuildImageOptions): Record<string, string> {
  const images: Record<string, string> = {};
  for (const dep of options.dependencies) {
    const record = readRecordJson(join(options.workspaceRoot, imageDir(dep.project), IMAGE_RECORD), `Run \`nx run ${dep.project}:docker-build\` again.`) as ImageRecord | undefined;
    if (record) images[imageName(options.config, dep.repository)] = record.digest;
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

/**
 * A released version (no new commits) is already in the registry: fetch it instead of
 * rebuilding, so every machine converges on the released digest.
 */
async function fetchReleased(options: BuildImageOptions, resolved: ResolvedVersion, env: NodeJS.ProcessEnv): Promise<FetchOutcome> {
  const { project, config } = options;
  const repository = repositoryPath(config, project.repository);
  return connectRegistry(config, env)
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
}

async function runPrebuild(options: BuildImageOptions, source: SourceCommit | undefined, io: BuildImageIo): Promise<void> {
  if (!options.prebuild.length) return;
  const [command, ...args] = options.prebuild;
  // It learns the platforms and the project's commit date (for reproducible file dates).
  const env = { ...io.env, AUREN_PLATFORMS: options.settings.platforms.join(','), ...(source ? { SOURCE_DATE_EPOCH: String(Math.floor(source.date.getTime() / 1000)) } : {}) };
  await io.exec(command, args, { cwd: options.workspaceRoot, env, stream: true, timeoutMs: 30 * 60_000 });
}

/** Build a project's image (the docker-build target): fetch the released version, else build it. */
export async function buildImage(options: BuildImageOptions, io: BuildImageIo): Promise<BuildImageResult> {
  const { workspaceRoot, project, config, dockerfile } = options;
  // Outside git (a copied folder) the image is built without version and revision labels, as a
  // local try. Inside git the context must be read, or the build stops with its hint (a detached
  // HEAD needs AUREN_BRANCH): an image built on without its labels is one no release has, so a
  // --rebuild meant to confirm a release would give another digest and say nothing.
  const git = (await isWorkTree(workspaceRoot)) ? await readGitContext(workspaceRoot, io.env) : undefined;
  const resolved = git ? await resolveVersion(workspaceRoot, project, config, git) : undefined;
  const source = git ? await lastCommitTouching(workspaceRoot, project.inputRoots) : undefined;
  const images = workspaceImages(options);
  // The Dockerfile is read even to fetch a release (for its base image); the context may be
  // made by the prebuild step, so runBuilder checks it.
  checkDockerfile({ workspaceRoot, dockerfile, project });

  if (resolved?.decision.bump === 'none' && resolved.decision.current !== undefined && !options.rebuild) {
    const outcome = await fetchReleased(options, resolved, io.env);
    if (outcome.status === 'fetched') {
      const { baseImage } = await resolveBuildArgs({ workspaceRoot, dockerfile, config, buildArgs: options.buildArgs, workspaceImages: images, source });
      const record = await writeImageRecord(project, outcome.layout, baseImage);
      return { status: 'fetched', record, reference: outcome.reference, bytes: outcome.bytes, version: resolved.version };
    }
    io.log(`${project.name}: ${describeFetch(outcome, resolved.version)}`);
  }

  await runPrebuild(options, source, io);
  const record = await runBuilder({
    workspaceRoot,
    project,
    config,
    dockerfile,
    context: options.context,
    builder: options.settings.builder,
    platforms: options.settings.platforms,
    buildArgs: options.buildArgs,
    labels: options.labels,
    target: options.target,
    cacheFrom: options.cacheFrom,
    cacheTo: options.cacheTo,
    source,
    version: resolved?.version,
    workspaceImages: images,
    verbose: options.verbose,
    env: io.env,
  });
  return { status: 'built', record, version: resolved?.version };
}

/** The line the build ends with. */
export function buildSummary(project: string, result: BuildImageResult): string {
  const { record } = result;
  if (result.status === 'fetched') {
    return (
      `${project}: version ${result.version} is released; fetched ${result.reference}@${record.digest} ` +
      `(${record.platforms.join(', ')}, ${formatBytes(result.bytes)}) instead of building. Use --rebuild to build it anyway.`
    );
  }
  return (
    `${project}: built ${record.digest} (${record.platforms.join(', ')}, ${formatBytes(record.size)}) with ${record.builder.name} ${record.builder.version}` +
    (result.version ? `, version ${result.version}` : '') +
    (record.baseImage ? `, FROM ${record.baseImage}` : '')
  );
}
