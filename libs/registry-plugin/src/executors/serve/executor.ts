import type { ExecutorContext } from '@nx/devkit';
import { embeddedRegistry } from '../../lib/config/embedded-registry';
import { exec } from '../../lib/exec/exec';
import { LOCAL_REGISTRY_SCRIPT } from '../../lib/package-files';
import { runExecutor } from '../shared/context';
import type { ServeExecutorSchema } from './schema';

const FLAGS = { run: [], detach: ['--detach'], stop: ['--stop'], status: ['--status'] } as const;

/** The script's environment: the registry's place as lib/config decides it (options over the caller's variables). */
export function serveEnv(options: ServeExecutorSchema, root: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const local = embeddedRegistry(root, env, { address: options.address || undefined, dir: options.dataDir || undefined });
  return { ...env, AUREN_WORKSPACE_ROOT: root, AUREN_LOCAL_REGISTRY_ADDR: local.address, AUREN_LOCAL_REGISTRY_DIR: local.dir };
}

/**
 * The registry project's `serve` target. The script ships with the plugin (the local garbage
 * collector restarts the registry with the same script), so a workspace holds no copy of it.
 */
export default async function serveExecutor(options: ServeExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const action = options.action ?? 'run';
    const result = await exec('bash', [LOCAL_REGISTRY_SCRIPT, ...FLAGS[action]], {
      cwd: context.root,
      env: serveEnv(options, context.root, process.env),
      stream: true,
      okExitCodes: action === 'status' ? [1] : [],
    });
    return result.exitCode === 0;
  });
}
