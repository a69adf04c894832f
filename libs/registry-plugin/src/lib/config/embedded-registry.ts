import { isAbsolute, join } from 'node:path';
import { DEFAULT_REGISTRY } from './defaults';
import { environmentValue, resolveSetting } from './precedence';

/**
 * Where the workspace's embedded registry listens and keeps its files. The serve script
 * (scripts/local-registry.sh) is given both through AUREN_LOCAL_REGISTRY_ADDR and
 * AUREN_LOCAL_REGISTRY_DIR, with the same defaults, so it and the code that reads its storage
 * (gc, cleanup, the monitor) agree on one place.
 */
export interface EmbeddedRegistry {
  /** `host:port` it listens on. */
  address: string;
  /** Its folder: config.yml, registry.pid, registry.log and data/. */
  dir: string;
  /** storage.filesystem.rootdirectory. */
  dataDir: string;
  configPath: string;
  pidFile: string;
}

/** The serve target's options: the variables win over them (the one precedence rule). */
export interface EmbeddedRegistryOptions {
  address?: string;
  /** The registry's folder (the serve target's `dataDir`). */
  dir?: string;
}

export function embeddedRegistry(workspaceRoot: string, env: NodeJS.ProcessEnv, options: EmbeddedRegistryOptions = {}): EmbeddedRegistry {
  // Relative to the workspace root, as the script resolves it (it runs there).
  const absolute = (dir: string) => (isAbsolute(dir) ? dir : join(workspaceRoot, dir));
  const dir = absolute(resolveSetting({ option: options.dir, environment: environmentValue(env, 'AUREN_LOCAL_REGISTRY_DIR'), fallback: join('.auren', 'registry') }));
  return {
    address: resolveSetting({ option: options.address, environment: environmentValue(env, 'AUREN_LOCAL_REGISTRY_ADDR'), fallback: DEFAULT_REGISTRY }),
    dir,
    dataDir: join(dir, 'data'),
    configPath: join(dir, 'config.yml'),
    pidFile: join(dir, 'registry.pid'),
  };
}

/** Whether `registry` is the workspace's embedded registry (then its storage can be read directly). */
export function isEmbeddedRegistry(registry: string, workspaceRoot: string, env: NodeJS.ProcessEnv): boolean {
  return registry === embeddedRegistry(workspaceRoot, env).address;
}
