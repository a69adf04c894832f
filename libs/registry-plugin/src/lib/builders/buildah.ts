import { rm } from 'node:fs/promises';
import { exec, which } from '../exec/exec';
import { commonBuildFlags, containersBuildFlags, type Builder, type BuildRequest } from './builder';
import { withRegistriesConf } from './registries-conf';

/**
 * buildah is daemonless and works as root without a Docker engine. Where overlay mounts are not
 * available (containers in CI, this machine) the `vfs` storage driver and `chroot` isolation are
 * what work; both can be overridden with buildah's own STORAGE_DRIVER / BUILDAH_ISOLATION.
 */
export function globalArgs(env: NodeJS.ProcessEnv): string[] {
  return ['--storage-driver', env.STORAGE_DRIVER || 'vfs'];
}

export function buildahBuilder(): Builder {
  return {
    kind: 'buildah',
    async available() {
      return (await which('buildah')) !== undefined;
    },
    async version() {
      const { stdout } = await exec('buildah', ['--version']);
      return stdout.trim().replace(/^buildah version /, '').split(' ')[0];
    },
    plan(request) {
      const g = globalArgs(request.env);
      const multi = request.platforms.length > 1;
      const bud = [
        'buildah', ...g, 'build',
        '--isolation', request.env.BUILDAH_ISOLATION || 'chroot',
        '--layers',
        '--pull=missing',
        ...commonBuildFlags(request),
        ...containersBuildFlags(request),
        request.context,
      ];
      const push = multi
        ? ['buildah', ...g, 'manifest', 'push', '--all', '--format', 'oci', request.localName, `oci:${request.outputDir}:latest`]
        : ['buildah', ...g, 'push', '--format', 'oci', '--compression-format', 'gzip', '--remove-signatures', '--quiet', request.localName, `oci:${request.outputDir}:latest`];
      return [bud, push];
    },
    async build(request) {
      const [bud, push] = this.plan(request);
      await rm(request.outputDir, { recursive: true, force: true });
      try {
        await withRegistriesConf(request.insecureRegistries, request.env, async (env) => {
          await exec(bud[0], bud.slice(1), { env, stream: request.verbose });
          await exec(push[0], push.slice(1), { env, stream: request.verbose });
        });
      } finally {
        await removeLocal(request).catch(() => undefined);
      }
    },
  };
}

async function removeLocal(request: BuildRequest): Promise<void> {
  const g = globalArgs(request.env);
  const args = request.platforms.length > 1 ? [...g, 'manifest', 'rm', request.localName] : [...g, 'rmi', request.localName];
  await exec('buildah', args, { env: request.env, okExitCodes: [1, 125] });
}
