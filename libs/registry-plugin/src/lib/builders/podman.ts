import { rm } from 'node:fs/promises';
import { withBuilderAuthFile } from '../connect/child-tools';
import { exec, which } from '../exec/exec';
import { commonBuildFlags, containersBuildFlags, type Builder } from './builder';
import { withRegistriesConf } from './registries-conf';

/** podman builds like buildah (it embeds it) and pushes the result to an OCI layout. */
export function podmanBuilder(): Builder {
  return {
    kind: 'podman',
    async available() {
      return (await which('podman')) !== undefined;
    },
    async version() {
      const { stdout } = await exec('podman', ['version', '--format', '{{.Client.Version}}']);
      return stdout.trim();
    },
    plan(request) {
      const multi = request.platforms.length > 1;
      const build = [
        'podman', 'build',
        '--layers',
        ...commonBuildFlags(request),
        ...containersBuildFlags(request),
        request.context,
      ];
      const push = multi
        ? ['podman', 'manifest', 'push', '--all', request.localName, `oci:${request.outputDir}:latest`]
        : ['podman', 'push', '--format', 'oci', '--compression-format', 'gzip', '--quiet', request.localName, `oci:${request.outputDir}:latest`];
      return [build, push];
    },
    build(original) {
      // podman checks `$DOCKER_CONFIG/config.json` as buildah does (withBuilderAuthFile).
      return withBuilderAuthFile(original.env, async (env) => {
        const request = { ...original, env };
        const [build, push] = this.plan(request);
        await rm(request.outputDir, { recursive: true, force: true });
        try {
          await withRegistriesConf(request.insecureRegistries, request.env, async (confEnv) => {
            await exec(build[0], build.slice(1), { env: confEnv, stream: request.verbose });
            await exec(push[0], push.slice(1), { env: confEnv, stream: request.verbose });
          });
        } finally {
          const rmArgs = multi(request.platforms) ? ['manifest', 'rm', request.localName] : ['rmi', request.localName];
          await exec('podman', rmArgs, { env: request.env, okExitCodes: [1, 125] }).catch(() => undefined);
        }
      });
    },
  };
}

const multi = (platforms: string[]) => platforms.length > 1;
