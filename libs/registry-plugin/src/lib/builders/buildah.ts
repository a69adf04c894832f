import { readFile, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { withBuilderAuthFile } from '../connect/child-tools';
import { exec, trace, which } from '../exec/exec';
import { withFileLock } from '../exec/file-lock';
import { readOciLayout } from '../registry/layout';
import { openLayerCache } from '../layer-cache/layer-cache';
import { exportCacheVersion, prepareIncrementalExport, rememberLayout, workspaceRootOf } from '../layer-cache/oci-export';
import { commonBuildFlags, containersBuildFlags, type Builder, type BuildRequest } from './builder';
import { withRegistriesConf } from './registries-conf';

/**
 * buildah is daemonless and works as root without a Docker engine. overlay is fast where the
 * kernel allows overlay mounts (it does here, even inside containers); elsewhere `vfs` copies
 * whole layers but always works. buildah's own STORAGE_DRIVER wins when set. overlay gets its
 * own storage root, since a root first used with vfs refuses another driver.
 */
export function globalArgs(env: NodeJS.ProcessEnv): string[] {
  return [
    '--storage-driver', env.STORAGE_DRIVER || 'vfs',
    ...(env.AUREN_BUILDAH_ROOT ? ['--root', env.AUREN_BUILDAH_ROOT, '--runroot', `${env.AUREN_BUILDAH_ROOT}.run`] : []),
  ];
}

/**
 * The storage root's name carries a version: layers cached by builds that stamped commit dates
 * (before every layer used one fixed epoch) must never be reused, or a machine with an old cache
 * would build other bytes than a clean one.
 */
const OVERLAY_ROOT = 'auren-overlay-v2';

/** Where containers/storage keeps its storages for this user: the system's as root. */
function containersDir(env: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return '/var/lib/containers';
  return join(env.XDG_DATA_HOME || join(env.HOME || tmpdir(), '.local', 'share'), 'containers');
}

export function overlayRoot(env: NodeJS.ProcessEnv): string {
  return join(containersDir(env), OVERLAY_ROOT);
}

/**
 * The storage a build uses: AUREN_BUILDAH_ROOT, else buildah's default for this user. Builds in
 * one storage take turns, across processes too (`--batch=false`, two nx commands at once): two
 * buildah builds side by side in one storage were not reproducible (buildah 1.28 recorded an
 * arm64 image's FROM in its history as `FROM 127.0.0.1` instead of the base image's whole
 * reference, another digest than built alone).
 */
export function storageRoot(env: NodeJS.ProcessEnv): string {
  return env.AUREN_BUILDAH_ROOT || join(containersDir(env), 'storage');
}

/** The environment a build runs with: overlay when a scratch container mounts with it, else vfs. */
export async function storageEnv(env: NodeJS.ProcessEnv): Promise<NodeJS.ProcessEnv> {
  if (env.STORAGE_DRIVER) return env;
  const candidate = { ...env, STORAGE_DRIVER: 'overlay', AUREN_BUILDAH_ROOT: overlayRoot(env) };
  const g = globalArgs(candidate);
  // The probe costs three buildah processes per build; its answer only changes with the kernel.
  const marker = join(overlayRoot(env), '.auren-overlay-probe');
  if ((await readFile(marker, 'utf8').catch(() => '')) === release()) return candidate;
  try {
    const { stdout } = await exec('buildah', [...g, 'from', '--quiet', 'scratch'], { env: candidate, timeoutMs: 30_000 });
    const container = stdout.trim();
    try {
      await exec('buildah', [...g, 'mount', container], { env: candidate, timeoutMs: 30_000 });
    } finally {
      await exec('buildah', [...g, 'rm', container], { env: candidate, okExitCodes: [1, 125] }).catch(() => undefined);
    }
    await writeFile(marker, release()).catch(() => undefined);
    return candidate;
  } catch {
    return { ...env, STORAGE_DRIVER: 'vfs' };
  }
}

export function buildahBuilder(): Builder {
  return {
    kind: 'buildah',
    async available() {
      return (await which('buildah')) !== undefined;
    },
    version() {
      // Asked by the build (cache key) and by the image record: one `buildah --version` per process.
      buildahVersion ??= exec('buildah', ['--version']).then(({ stdout }) => stdout.trim().replace(/^buildah version /, '').split(' ')[0]);
      buildahVersion.catch(() => (buildahVersion = undefined));
      return buildahVersion;
    },
    plan(request) {
      const g = globalArgs(request.env);
      const multi = request.platforms.length > 1;
      const bud = [
        'buildah', ...g, 'build',
        '--isolation', request.env.BUILDAH_ISOLATION || 'chroot',
        '--layers',
        // Base images are pinned by the digest of their index. With --pull=missing, buildah 1.28
        // takes any local image that carries that digest, whatever its platform: a storage that
        // built the base for several platforms gave an amd64 build the arm64 base (only a
        // warning). A pull resolves the index for the build's platform; its layers are local.
        '--pull=always',
        // Registry layer cache (needs --layers): buildah takes repositories, not tagged refs.
        ...request.cacheFrom.flatMap((repo) => ['--cache-from', repo]),
        ...request.cacheTo.flatMap((repo) => ['--cache-to', repo]),
        // One platform: labels go into the config at export (labelConfig in lib/layer-cache/oci-export.ts).
        ...commonBuildFlags(multi ? request : { ...request, labels: {} }),
        ...containersBuildFlags(request),
        request.context,
      ];
      const push = multi
        ? ['buildah', ...g, 'manifest', 'push', '--all', '--format', 'oci', request.localName, `oci:${request.outputDir}:latest`]
        : ['buildah', ...g, 'push', '--format', 'oci', '--compression-format', 'gzip', '--remove-signatures', '--quiet', request.localName, `oci:${request.outputDir}:latest`];
      return [bud, push];
    },
    build(original) {
      // The storage probe (`buildah from`) and the export check the auth file too.
      return withBuilderAuthFile(original.env, async (env) => {
        const storage = await storageEnv(env);
        const lock = `${storageRoot(storage)}.auren-build.lock`;
        const onWait = (holder: string) => process.stderr.write(`build: waiting for ${holder}, which builds in the same storage (${lock})\n`);
        return withFileLock(lock, { holder: 'a buildah build', onWait }, () => buildWith(this, { ...original, env: storage }));
      });
    },
  };
}

async function buildWith(builder: Builder, request: BuildRequest): Promise<void> {
  const [bud, push] = builder.plan(request);
  // Single-platform exports reuse the compressed layers of earlier exports (lib/layer-cache/oci-export.ts).
  const incremental = request.platforms.length <= 1;
  const cache = request.layerCache ?? openLayerCache(workspaceRootOf(request.dockerfile) ?? request.context, request.env);
  const builderVersion = await builder.version();
  const cacheVersion = exportCacheVersion(`buildah-${builderVersion}`);
  // Only layouts this export made feed the cache (below): a layout left in the output folder
  // may have been fetched from a registry or exported for several platforms, compressed by
  // other means, and reusing its blobs would make the digest depend on the machine's history.
  await rm(request.outputDir, { recursive: true, force: true });
  try {
    await withRegistriesConf(request.insecureRegistries, request.env, async (env) => {
      await exec(bud[0], bud.slice(1), { env, stream: request.verbose });
      // Every export's layers are made canonical (lib/layer-cache/canonical-layer.ts), so the
      // digest does not depend on the storage driver; several platforms skip no layer.
      const prepared = await prepareIncrementalExport(cache, cacheVersion, request.outputDir, incremental && cache.dir ? await imageDiffIds(request, env) : [], { labels: incremental ? request.labels : undefined });
      await exec(push[0], push.slice(1), { env, stream: request.verbose });
      await prepared.finish();
      // The incremental export is an optimisation: if the layout it left is not whole (a layer
      // the builder did not take as "already there" leaves its placeholder behind), export
      // again in full rather than fail the build.
      const incomplete = prepared.reused.size > 0
        ? await readOciLayout(request.outputDir).then(() => undefined, (error: unknown) => (error instanceof Error ? error.message : String(error)))
        : undefined;
      if (incomplete) {
        trace(`export again in full, the incremental one is incomplete: ${incomplete.replace(/^.*? is not a valid OCI image layout: /, '')}`, performance.now());
        await rm(request.outputDir, { recursive: true, force: true });
        await exec(push[0], push.slice(1), { env, stream: request.verbose });
        const labelled = await prepareIncrementalExport(cache, cacheVersion, request.outputDir, [], { labels: request.labels });
        await labelled.finish();
      }
    });
    if (incremental) await rememberLayout(cache, cacheVersion, request.outputDir);
  } finally {
    await removeLocal(request).catch(() => undefined);
  }
}

/** The uncompressed digests of the built image's layers, from its config. */
async function imageDiffIds(request: BuildRequest, env: NodeJS.ProcessEnv): Promise<string[]> {
  const { stdout } = await exec('buildah', [...globalArgs(env), 'inspect', '--type', 'image', '--format', '{{range .OCIv1.RootFS.DiffIDs}}{{.}} {{end}}', request.localName], { env });
  return stdout.split(/\s+/).filter(Boolean);
}

let buildahVersion: Promise<string> | undefined;

async function removeLocal(request: BuildRequest): Promise<void> {
  const g = globalArgs(request.env);
  const args = request.platforms.length > 1 ? [...g, 'manifest', 'rm', request.localName] : [...g, 'rmi', request.localName];
  await exec('buildah', args, { env: request.env, okExitCodes: [1, 125] });
}
