import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBuilder } from '../builders';
import { baseImageBuildArgs, parseDockerfile } from '../builders/dockerfile';
import { isLoopbackRegistry, type AurenConfig, type BuilderName } from '../config/options';
import { inputError } from '../errors/errors';
import type { GitContext } from '../git';
import { resolveCredentials } from '../registry/auth/credentials';
import { readOciLayout } from '../registry/layout';
import { builderTlsArgs } from '../registry/tls';
import { IMAGE_RECORD, type ImageRecord } from '../reports/records';

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
  git: GitContext | undefined;
  version: string | undefined;
  verbose: boolean;
  env: NodeJS.ProcessEnv;
}

export function ociLabels(input: Pick<BuildInput, 'project' | 'git' | 'version'>, baseImage: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': input.project.name,
    'org.opencontainers.image.vendor': 'AUREN',
  };
  if (input.version) labels['org.opencontainers.image.version'] = input.version;
  if (input.git) {
    labels['org.opencontainers.image.revision'] = input.git.sha;
    // The commit date, not the wall clock: rebuilding the same commit gives the same labels.
    labels['org.opencontainers.image.created'] = input.git.commitDate.toISOString();
    labels['org.opencontainers.image.ref.name'] = input.git.branch;
  }
  if (baseImage) labels['org.opencontainers.image.base.name'] = baseImage;
  return labels;
}

/** Registries in the build that speak plain HTTP: loopback ones and those configured insecure. */
export function insecureRegistriesFor(config: AurenConfig, images: string[]): string[] {
  const hosts = new Set<string>(config.insecureRegistries);
  if (isLoopbackRegistry(config.registry)) hosts.add(config.registry);
  for (const image of images) {
    const host = image.split('/')[0];
    if (image.includes('/') && isLoopbackRegistry(host)) hosts.add(host);
  }
  return [...hosts];
}

export async function buildImage(input: BuildInput): Promise<ImageRecord> {
  const dockerfilePath = join(input.workspaceRoot, input.dockerfile);
  if (!existsSync(dockerfilePath)) {
    throw inputError(
      `${input.project.name}: no Dockerfile at ${input.dockerfile}`,
      'Add a Dockerfile to the project, or set the "dockerfile" option of its docker-build target.',
    );
  }
  const contextPath = join(input.workspaceRoot, input.context);
  if (!existsSync(contextPath)) {
    throw inputError(`${input.project.name}: build context ${input.context} does not exist`, 'Set the "context" option of docker-build to an existing folder.');
  }
  const info = parseDockerfile(await readFile(dockerfilePath, 'utf8'), input.dockerfile);
  const buildArgs = { ...baseImageBuildArgs(info, input.config.baseImages), ...input.buildArgs };
  const baseImage = Object.values(buildArgs).find((value) => Object.values(input.config.baseImages).includes(value));
  const labels = { ...ociLabels(input, baseImage), ...input.labels };
  const builder = await resolveBuilder(input.builder);
  const outputDir = join(input.project.artifactDir, 'oci');
  await mkdir(input.project.artifactDir, { recursive: true });
  // The builder pulls the base image with the same trust and credentials the push uses.
  const tls = await builderTlsArgs(input.config.registry, { caFile: input.config.caFile, env: input.env });
  await withBuilderAuth(input.config.registry, input.env, (env) => builder.build({
    context: contextPath,
    dockerfile: dockerfilePath,
    buildArgs,
    labels,
    platforms: input.platforms,
    target: input.target,
    outputDir,
    insecureRegistries: insecureRegistriesFor(input.config, Object.values(buildArgs)),
    certDir: tls.certDir,
    cacheFrom: input.cacheFrom,
    cacheTo: input.cacheTo,
    timestamp: input.git ? Math.floor(input.git.commitDate.getTime() / 1000) : undefined,
    localName: `localhost/auren-build/${input.project.name}:${randomBytes(6).toString('hex')}`,
    env,
    verbose: input.verbose,
  }));
  const layout = await readOciLayout(outputDir);
  const missing = input.platforms.filter((p) => !layout.platforms.includes(p));
  if (input.platforms.length > 1 && missing.length) {
    // buildah 1.28 with --layers can fold platforms whose layers are identical into one entry.
    throw inputError(
      `${input.project.name}: the build produced ${layout.platforms.join(', ')} but ${missing.join(', ')} was asked for`,
      'Make the platforms differ (e.g. use TARGETARCH) or build them one at a time; see the README on multi-platform images.',
    );
  }
  const record: ImageRecord = {
    schemaVersion: 1,
    project: input.project.name,
    digest: layout.digest,
    mediaType: layout.mediaType,
    platforms: layout.platforms,
    size: layout.size,
    labels,
    builder: { name: builder.kind, version: await builder.version() },
    baseImage,
    version: input.version,
    createdAt: labels['org.opencontainers.image.created'] ?? new Date().toISOString(),
  };
  await writeFile(join(input.project.artifactDir, IMAGE_RECORD), JSON.stringify(record, null, 2) + '\n');
  return record;
}

/**
 * Credentials from the environment or docker's config.json reach buildah/podman through a
 * private auth file (REGISTRY_AUTH_FILE, mode 0600) that is removed after the build; they are
 * never passed on a command line or written into the image.
 */
async function withBuilderAuth<T>(registry: string, env: NodeJS.ProcessEnv, fn: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  const credentials = env.REGISTRY_AUTH_FILE ? undefined : await resolveCredentials(registry, { env }).catch(() => undefined);
  if (!credentials) return fn(env);
  const dir = await mkdtemp(join(tmpdir(), 'auren-auth-'));
  const file = join(dir, 'auth.json');
  const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
  await writeFile(file, JSON.stringify({ auths: { [registry]: { auth } } }), { mode: 0o600 });
  try {
    return await fn({ ...env, REGISTRY_AUTH_FILE: file });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
