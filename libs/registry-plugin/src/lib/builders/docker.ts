import { mkdir, rm } from 'node:fs/promises';
import { exec, which } from '../exec/exec';
import { commonBuildFlags, type Builder } from './builder';

/**
 * docker buildx exports straight to an OCI layout (`type=oci,tar=false`), multi-platform
 * included, so nothing lands in the daemon's image store. Needs a running engine: the client
 * alone (as on machines without Docker) is reported as unavailable.
 */
export function dockerBuilder(): Builder {
  return {
    kind: 'docker',
    async available() {
      if (!(await which('docker'))) return false;
      return exec('docker', ['buildx', 'version'], { timeoutMs: 10_000 }).then(
        () => exec('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 }).then(() => true, () => false),
        () => false,
      );
    },
    async version() {
      const { stdout } = await exec('docker', ['buildx', 'version']);
      return stdout.trim().split(/\s+/)[1] ?? stdout.trim();
    },
    plan(request) {
      return [[
        'docker', 'buildx', 'build',
        ...commonBuildFlags(request),
        ...request.cacheFrom.flatMap((ref) => ['--cache-from', `type=registry,ref=${ref}`]),
        ...request.cacheTo.flatMap((ref) => ['--cache-to', `type=registry,ref=${ref},mode=max`]),
        '--provenance=false',
        '--output', `type=oci,dest=${request.outputDir},tar=false`,
        request.context,
      ]];
    },
    async build(request) {
      const [argv] = this.plan(request);
      await rm(request.outputDir, { recursive: true, force: true });
      await mkdir(request.outputDir, { recursive: true });
      const env = request.timestamp !== undefined ? { ...request.env, SOURCE_DATE_EPOCH: String(request.timestamp) } : request.env;
      await exec(argv[0], argv.slice(1), { env, stream: request.verbose });
    },
  };
}
