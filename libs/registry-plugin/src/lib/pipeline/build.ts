import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveBuilder } from '../builders';
import { baseImageBuildArgs, parseDockerfile } from '../builders/dockerfile';
import { isInsecureRegistry, isLoopbackRegistry, type AurenConfig, type BuilderName } from '../config/options';
import { withBuilderAccess } from '../connect/child-tools';
import { credentialsFor } from '../connect/connect';
import { inputError } from '../errors/errors';
import type { SourceCommit } from '../git';
import { openLayerCache } from '../layer-cache/layer-cache';
import { inTurn } from '../registry/concurrency';
import { parseConfig } from '../registry/image-graph';
import { readOciLayout, type OciLayout } from '../registry/layout';
import { probeRegistryScheme } from '../registry/client';
import { builderTlsArgs, createDispatcher } from '../registry/tls';
import { writeBuildProvenance, writeImageRecord as saveImageRecord, type BuildProvenance, type ImageRecord } from '../reports/records';
import { readGitContext } from '../git';
import { packageLocks, readSourceState, recordedBuildArgs, runnerIdentity } from '../supply-chain/provenance';

export interface BuildInput {
  workspaceRoot: string;
  project: { name: string; root: string; artifactDir: string };
  config: AurenConfig;
  dockerfile: string;
  context: string;
  builder: BuilderName;
  platforms: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target: string | undefined;
  cacheFrom: string[];
  cacheTo: string[];
  /** The project's own newest commit: labels and timestamps describe it, not HEAD. */
  source: SourceCommit | undefined;
  version: string | undefined;
  /**
   * Images built in this workspace, by repository reference without tag (`host/ns/repo`) →
   * digest: a base image mapped to one of them is pinned to that digest, never a moving tag.
   */
  workspaceImages: Record<string, string>;
  verbose: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * File and history timestamps of every layer, and the config's `created`: one fixed epoch, not
 * the commit date. buildah's layer cache (`--layers`) ignores `--timestamp`: a cached layer keeps
 * the timestamp of the build that first made it (measured with buildah 1.28: a COPY layer built
 * at T1 is reused, mtimes and history dates of T1, by a build at T2). With a per-commit date the
 * digest would depend on what the machine's cache held; with one fixed epoch it cannot. The real
 * date is in the `org.opencontainers.image.created` label (the project's last commit).
 */
export const LAYER_EPOCH = 0;

/** Label that names the builder and its version, so image.json is a function of the image alone. */
export const BUILDER_LABEL = 'dev.auren.builder';
const VERSION = 'org.opencontainers.image.version';
const CREATED = 'org.opencontainers.image.created';

/**
 * OCI labels of a build. None of them depends on the machine, the branch, HEAD or how the registry
 * is spelled, so two clean machines building the same commit write the same config bytes
 * (reproducible builds). The base image is named as the Dockerfile names it, plus the digest
 * it was pinned to.
 */
export function ociLabels(
  input: Pick<BuildInput, 'project' | 'source' | 'version' | 'config'>,
  base: { name: string; digest: string | undefined } | undefined,
  builder: string,
): Record<string, string> {
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': input.project.name,
    'org.opencontainers.image.vendor': input.config.vendor,
    [BUILDER_LABEL]: builder,
  };
  if (input.version) labels[VERSION] = input.version;
  if (input.source) {
    labels['org.opencontainers.image.revision'] = input.source.sha;
    labels[CREATED] = input.source.date.toISOString();
  }
  if (base) {
    labels['org.opencontainers.image.base.name'] = base.name;
    if (base.digest) labels['org.opencontainers.image.base.digest'] = base.digest;
  }
  return labels;
}

/**
 * Registries in the build that speak plain HTTP: those configured insecure, and loopback ones
 * that do not speak TLS (asked the way the registry client decides, so a TLS registry on
 * 127.0.0.1 behind a tunnel keeps certificate checks in the builder too).
 */
export async function insecureRegistriesFor(config: AurenConfig, images: string[], env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const used = [config.registry, ...images.filter((image) => image.includes('/')).map((image) => image.split('/')[0])];
  // Only the listed registries this build uses, each spelled as the build writes it: buildah
  // and podman match registries.conf locations by prefix, so an entry the build does not need
  // could only ever widen what runs without TLS.
  const hosts = new Set<string>(used.filter((host) => isInsecureRegistry(host, config.insecureRegistries)));
  const loopback = new Set<string>(used.filter((host) => isLoopbackRegistry(host)));
  for (const host of loopback) {
    if (hosts.has(host)) continue;
    const dispatcher = createDispatcher({ registry: host, caFile: config.caFile, env });
    if ((await probeRegistryScheme(host, { dispatcher })) === 'http') hosts.add(host);
  }
  return [...hosts];
}

/** `host/ns/repo:tag` or `host/ns/repo@sha256:…` → `host/ns/repo`. */
export function repositoryOf(reference: string): string {
  const at = reference.indexOf('@');
  const withoutDigest = at === -1 ? reference : reference.slice(0, at);
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
}

/**
 * Build args after pinning: a mapped base image that this workspace builds is replaced by
 * `repo@digest` of the image the dependency's docker-build produced (built or fetched), so a
 * dependent always builds FROM exactly the released base, whatever its tag says now.
 */
export function pinBaseImages(buildArgs: Record<string, string>, workspaceImages: Record<string, string>): Record<string, string> {
  const pinned: Record<string, string> = {};
  for (const [name, value] of Object.entries(buildArgs)) {
    const digest = workspaceImages[repositoryOf(value)];
    pinned[name] = digest && !value.includes('@') ? `${repositoryOf(value)}@${digest}` : value;
  }
  return pinned;
}

export interface BuildPlanInfo {
  buildArgs: Record<string, string>;
  /** The mapped (and pinned) base image reference, when the Dockerfile uses one. */
  baseImage: string | undefined;
  /** The base as the Dockerfile names it (the ARG default), for the label. */
  baseName: string | undefined;
}

/** Base-image mapping and pinning, from the Dockerfile's `ARG BASE_IMAGE=…` convention. */
export async function resolveBuildArgs(input: Pick<BuildInput, 'workspaceRoot' | 'dockerfile' | 'config' | 'buildArgs' | 'workspaceImages' | 'source'>): Promise<BuildPlanInfo> {
  const text = await readFile(join(input.workspaceRoot, input.dockerfile), 'utf8');
  const info = parseDockerfile(text, input.dockerfile);
  const mapped = baseImageBuildArgs(info, input.config.baseImages);
  const buildArgs: Record<string, string> = {
    ...pinBaseImages(mapped, input.workspaceImages),
    // For Dockerfiles that declare it (https://reproducible-builds.org/specs/source-date-epoch/):
    // the same fixed epoch as the layers, so RUN steps that stamp dates stay cacheable.
    ...(/\bSOURCE_DATE_EPOCH\b/.test(text) ? { SOURCE_DATE_EPOCH: String(LAYER_EPOCH) } : {}),
    ...input.buildArgs,
  };
  const argName = Object.keys(mapped).find((name) => buildArgs[name] !== undefined);
  return {
    buildArgs,
    baseImage: argName ? buildArgs[argName] : undefined,
    baseName: argName ? info.globalArgs[argName] : undefined,
  };
}

/** The Dockerfile exists: checked before anything is built or fetched. */
export function checkDockerfile(input: Pick<BuildInput, 'workspaceRoot' | 'dockerfile' | 'project'>): void {
  if (!existsSync(join(input.workspaceRoot, input.dockerfile))) {
    throw inputError(
      `${input.project.name}: no Dockerfile at ${input.dockerfile}`,
      'Add a Dockerfile to the project, or set the "dockerfile" option of its docker-build target.',
    );
  }
}

function checkPaths(input: BuildInput): void {
  checkDockerfile(input);
  if (!existsSync(join(input.workspaceRoot, input.context))) {
    throw inputError(`${input.project.name}: build context ${input.context} does not exist`, 'Set the "context" option of docker-build to an existing folder.');
  }
}

/**
 * One build at a time in this process, whatever the builder, though a batch runs its other
 * tasks side by side: two builds sharing the builder's storage at once were not reproducible
 * (lib/builders/buildah.ts says how, and also makes buildah builds in one storage take turns
 * across processes). A release fetched from the registry is not a build and does not wait.
 */
const builderTurn = inTurn();

/** Run the builder into the project's OCI layout, then write image.json and provenance.json. */
export async function runBuilder(input: BuildInput): Promise<ImageRecord> {
  checkPaths(input);
  const dockerfilePath = join(input.workspaceRoot, input.dockerfile);
  const contextPath = join(input.workspaceRoot, input.context);
  const { buildArgs, baseImage, baseName } = await resolveBuildArgs(input);
  const builder = await resolveBuilder(input.builder);
  const builderId = `${builder.kind} ${await builder.version()}`;
  const baseDigest = baseImage?.includes('@') ? baseImage.slice(baseImage.indexOf('@') + 1) : undefined;
  const labels = { ...ociLabels(input, baseName ? { name: baseName, digest: baseDigest } : undefined, builderId), ...input.labels };
  const outputDir = join(input.project.artifactDir, 'oci');
  await mkdir(input.project.artifactDir, { recursive: true });
  // The builder pulls the base image with the same trust and credentials the push uses.
  const insecureRegistries = await insecureRegistriesFor(input.config, Object.values(buildArgs), input.env);
  const tls = await builderTlsArgs(input.config.registry, { caFile: input.config.caFile, env: input.env, plainHttp: isLoopbackRegistry(input.config.registry) ? insecureRegistries.includes(input.config.registry) : undefined });
  // An auth file of the user's own wins (withBuilderAccess), so no credential helper runs for
  // nothing; a build goes on without credentials it cannot resolve, as a public base image needs none.
  const credentials = input.env.REGISTRY_AUTH_FILE ? undefined : await credentialsFor(input.config.registry, input.config, input.env).catch(() => undefined);
  const startedOn = new Date();
  await builderTurn('builder', () => withBuilderAccess(input.config.registry, credentials, input.env, (env) => builder.build({
    context: contextPath,
    dockerfile: dockerfilePath,
    buildArgs,
    labels,
    platforms: input.platforms,
    target: input.target,
    outputDir,
    insecureRegistries,
    certDir: tls.certDir,
    cacheFrom: input.cacheFrom,
    cacheTo: input.cacheTo,
    timestamp: LAYER_EPOCH,
    localName: `localhost/auren-build/${input.project.name}:${randomBytes(6).toString('hex')}`,
    env,
    verbose: input.verbose,
  })));
  const layout = await readOciLayout(outputDir);
  const missing = input.platforms.filter((p) => !layout.platforms.includes(p));
  if (input.platforms.length > 1 && missing.length) {
    // buildah 1.28 with --layers can fold platforms whose layers are identical into one entry.
    throw inputError(
      `${input.project.name}: the build produced ${layout.platforms.join(', ')} but ${missing.join(', ')} was asked for`,
      'Make the platforms differ (e.g. use TARGETARCH) or build them one at a time; see the README on multi-platform images.',
    );
  }
  const record = await writeImageRecord(input.project, layout, baseImage);
  await writeBuildProvenance(input.project.artifactDir, await buildProvenance(input, { layout, record, buildArgs, baseImage, startedOn, finishedOn: new Date() }));
  return record;
}

/**
 * What this build was made from and when: the inputs of the image's SLSA provenance, which
 * docker-push attests (lib/supply-chain/provenance.ts says what each field means).
 */
async function buildProvenance(
  input: BuildInput,
  built: { layout: OciLayout; record: ImageRecord; buildArgs: Record<string, string>; baseImage: string | undefined; startedOn: Date; finishedOn: Date },
): Promise<BuildProvenance> {
  const branch = await readGitContext(input.workspaceRoot, input.env).then((g) => g.branch, () => undefined);
  const source = await readSourceState(input.workspaceRoot, [input.context, input.dockerfile], branch).catch(() => undefined);
  const base = built.baseImage;
  return {
    schemaVersion: 1,
    project: input.project.name,
    digest: built.record.digest,
    externalParameters: {
      dockerfile: input.dockerfile,
      context: input.context,
      platforms: built.record.platforms,
      buildArgs: recordedBuildArgs(built.buildArgs, input.env),
      ...(input.target ? { target: input.target } : {}),
    },
    ...(source ? { source: { ...source, ...(input.source ? { projectCommit: input.source.sha } : {}) } } : {}),
    ...(base ? { baseImage: { reference: base, ...(base.includes('@') ? { digest: base.slice(base.indexOf('@') + 1) } : {}) } } : {}),
    packageLocks: await packageLocks(built.layout, openLayerCache(input.workspaceRoot, input.env)),
    builder: built.record.builder,
    runner: runnerIdentity(input.env),
    startedOn: built.startedOn.toISOString(),
    finishedOn: built.finishedOn.toISOString(),
  };
}

/** The labels of the image's config (for an index, its first platform's). */
async function layoutLabels(layout: OciLayout): Promise<Record<string, string>> {
  const leaf = layout.manifests.find((m) => m.children.length === 0);
  const configDigest = leaf?.blobs[0];
  const config = layout.blobs.find((b) => b.digest === configDigest);
  if (!config) return {};
  const json = parseConfig(await readFile(config.path));
  return json.config?.Labels ?? {};
}

/**
 * image.json is a function of the image alone (digest, platforms, size, its own labels), whether
 * it was built here or fetched from the registry: tasks that hash it (scan, dependents' builds)
 * then get the same key on every machine.
 */
export async function writeImageRecord(
  project: { name: string; artifactDir: string },
  layout: OciLayout,
  baseImage: string | undefined,
): Promise<ImageRecord> {
  const labels = await layoutLabels(layout);
  const [builderName, builderVersion] = (labels[BUILDER_LABEL] ?? 'unknown unknown').split(' ');
  const record: ImageRecord = {
    schemaVersion: 1,
    project: project.name,
    digest: layout.digest,
    mediaType: layout.mediaType,
    platforms: layout.platforms,
    size: layout.size,
    labels,
    builder: { name: builderName, version: builderVersion ?? 'unknown' },
    baseImage,
    version: labels[VERSION],
    createdAt: labels[CREATED] ?? new Date(0).toISOString(),
  };
  await saveImageRecord(project.artifactDir, record);
  // A fetched image was not built here; runBuilder writes the record of a build after this.
  await writeBuildProvenance(project.artifactDir, undefined);
  return record;
}
