import {
  addProjectConfiguration,
  generateFiles,
  getProjects,
  joinPathFragments,
  offsetFromRoot,
  type TargetConfiguration,
  type Tree,
} from '@nx/devkit';
import { join } from 'node:path';
import { DEFAULT_NAMESPACE } from '../../lib/config/options';
import { splitList } from '../../lib/config/lists';
import { inputError } from '../../lib/errors/errors';
import { initGenerator, isPluginRegistered } from '../init/generator';
import { withHints } from '../shared/errors';
import { BASE_IMAGE_TAG, baseImageMapping, findBaseImageProject, updatePluginOptions } from '../shared/workspace';
import type { BaseImageGeneratorSchema } from './schema';

/** OCI distribution `<name>` component, as the docker-app generator checks app names. */
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** Debian package names (Debian Policy 5.6.1), optionally with an architecture qualifier. */
const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?$/;
/** The platforms build-rootfs.sh knows a Debian bookworm port for. */
const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm64/v8', 'linux/arm/v7', 'linux/arm', 'linux/386', 'linux/ppc64le', 'linux/s390x'];
/** Scripts run with `bash <file>`; the mode only helps a reader who runs them directly. */
const EXECUTABLE = ['build-rootfs.sh', 'check-reproducible.sh', 'customize-rootfs.sh'];

export interface NormalizedBaseImageOptions {
  name: string;
  projectRoot: string;
  /** Where the root filesystem tars go: the base image's build context. */
  outputDir: string;
  repository: string;
  platforms: string[];
  packages: string[];
}

const list = (value: string | string[] | undefined, fallback: string[]): string[] => (value === undefined ? fallback : [...new Set(splitList(value))]);

export function normalizeOptions(tree: Tree, schema: BaseImageGeneratorSchema): NormalizedBaseImageOptions {
  const name = (schema.name ?? 'base-image').trim();
  if (!COMPONENT_RE.test(name)) {
    throw inputError(`invalid project name "${name}"`, 'Use lower-case letters and digits separated by "-", e.g. base-image.');
  }
  const repository = (schema.repository ?? 'base-debian').trim();
  if (!COMPONENT_RE.test(repository)) {
    throw inputError(`invalid repository "${repository}"`, 'The repository is one OCI path component below the namespace: lower-case letters and digits separated by ".", "_" or "-", e.g. base-debian.');
  }
  const platforms = list(schema.platforms, ['linux/amd64', 'linux/arm64']);
  const unknown = platforms.filter((p) => !PLATFORMS.includes(p));
  if (unknown.length || !platforms.length) {
    throw inputError(`no Debian bookworm port for platform "${unknown[0] ?? ''}"`, `Use platforms from: ${PLATFORMS.join(', ')}.`);
  }
  const packages = list(schema.packages, ['ca-certificates']);
  const badPackage = packages.find((p) => !PACKAGE_RE.test(p));
  if (badPackage !== undefined) throw inputError(`invalid Debian package name "${badPackage}"`, 'Name Debian packages, e.g. ca-certificates,tzdata.');
  const existing = findBaseImageProject(tree);
  if (existing) {
    throw inputError(`the workspace already has a base image project, "${existing.name}" (tag ${BASE_IMAGE_TAG})`, 'Edit that project (packages.txt, project.json), or remove it first.');
  }
  if (getProjects(tree).has(name)) throw inputError(`a project named "${name}" already exists`, 'Choose another name with --name.');
  const projectRoot = (schema.directory ?? joinPathFragments('tools', name)).replace(/\/+$/, '');
  if (tree.exists(projectRoot)) throw inputError(`${projectRoot} already exists`, 'Choose another --directory, or remove the folder first.');
  return { name, projectRoot, outputDir: joinPathFragments('dist', name), repository, platforms, packages };
}

/** The project's targets; docker-build, scan and docker-push complete what the plugin infers from the Dockerfile. */
export function baseImageTargets(o: NormalizedBaseImageOptions): Record<string, TargetConfiguration> {
  const platforms = o.platforms.join(',');
  const script = `${o.projectRoot}/build-rootfs.sh`;
  const sourceInputs = [
    '{projectRoot}/**/*',
    { env: 'AUREN_PLATFORMS' },
    { env: 'DEBIAN_MIRROR' },
    { env: 'DEBIAN_SECURITY_MIRROR' },
    { runtime: 'mmdebstrap --version' },
  ];
  return {
    rootfs: {
      executor: 'nx:run-commands',
      cache: true,
      inputs: [...sourceInputs, { runtime: `git log -1 --format=%ct -- ${o.projectRoot}` }],
      outputs: [`{workspaceRoot}/${o.outputDir}`],
      options: { command: `bash ${script} --platforms=${platforms}` },
      metadata: {
        description: `mmdebstrap a reproducible Debian bookworm root filesystem per platform into ${o.outputDir}/rootfs-<arch>.tar, with packages-<arch>.lock and packages.json. Platforms: AUREN_PLATFORMS, else its --platforms. docker-build's prebuild makes the platforms docker-build builds (AUREN_PLATFORMS, else its platforms option).`,
      },
    },
    'rootfs-reproducible': {
      executor: 'nx:run-commands',
      cache: false,
      options: { command: `bash ${o.projectRoot}/check-reproducible.sh` },
      metadata: {
        description: `Build the root filesystem twice from this commit into two empty folders (the second with an empty .deb cache) and compare the tars byte for byte: linux/amd64, or the platforms of --args=--platforms=${platforms}.`,
      },
    },
    'docker-build': {
      inputs: [
        ...sourceInputs,
        { runtime: `git log -1 --format=%H -- ${o.projectRoot}` },
        { runtime: '(buildah --version; podman --version; docker buildx version) 2>/dev/null || true' },
        { env: 'AUREN_BUILDER' },
      ],
      options: {
        // The platforms are committed, so every machine builds the same release;
        // AUREN_PLATFORMS narrows them for one run (the prebuild is told what the build settled on).
        context: o.outputDir,
        platforms: o.platforms,
        prebuild: ['bash', script, `--platforms=${platforms}`],
      },
      metadata: {
        description: 'Build the base image from the root filesystem that build-rootfs.sh makes first (the prebuild step, skipped when the released version is fetched from the registry instead).',
      },
    },
    // A base image has no USER: the images built on it choose theirs.
    scan: { options: { allowRootUser: true } },
    'docker-push': { options: { repository: o.repository, extraTags: ['bookworm'] } },
  };
}

/**
 * The in-house Debian bookworm base image: a root filesystem made reproducibly from Debian
 * packages with mmdebstrap, one tar per platform, and a `FROM scratch` Dockerfile over it. The
 * plugin maps `debian:bookworm-slim` to it, so every Dockerfile that starts
 * `ARG BASE_IMAGE=debian:bookworm-slim` builds on it, pinned by digest.
 */
export async function baseImageGenerator(tree: Tree, schema: BaseImageGeneratorSchema): Promise<void> {
  const options = normalizeOptions(tree, schema);
  addProjectConfiguration(tree, options.name, {
    root: options.projectRoot,
    projectType: 'library',
    tags: [BASE_IMAGE_TAG],
    targets: baseImageTargets(options),
  });
  generateFiles(tree, join(__dirname, 'files'), options.projectRoot, {
    ...options,
    offsetFromRoot: offsetFromRoot(options.projectRoot),
    packageLines: options.packages.join('\n'),
    tmpl: '',
  });
  for (const file of EXECUTABLE) tree.changePermissions(joinPathFragments(options.projectRoot, file), '755');
  // init (when the plugin is not registered yet) finds this project and maps to it already.
  if (!isPluginRegistered(tree)) await initGenerator(tree, {});
  const base = { name: options.name, repository: options.repository, tag: 'bookworm' };
  updatePluginOptions(tree, (pluginOptions) => ({
    ...pluginOptions,
    baseImages: { ...pluginOptions.baseImages, ...baseImageMapping(base, pluginOptions.namespace ?? DEFAULT_NAMESPACE) },
  }));
}

/** The entry Nx calls: errors carry their hint in the message. */
export default withHints(baseImageGenerator);
