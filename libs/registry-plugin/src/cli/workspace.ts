import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { normalizeOptions, pluginOptions, type AurenConfig, type NxJsonPlugins } from '../lib/config/options';
import { configError } from '../lib/errors/errors';
import type { Io } from '../lib/retention/run';
import type { CommandIo } from './command';

/** nx.json as far as the CLI reads it: the plugin entry, and the monitor's section. */
export type NxJson = NxJsonPlugins & Record<string, unknown>;

export interface Workspace {
  /** The folder of the nearest nx.json above `cwd`, if any. */
  root: string | undefined;
  nxJson: NxJson;
  config: AurenConfig & { workspaceRoot: string | undefined };
}

/**
 * The nearest nx.json above `cwd` (defaults when there is none) and the plugin's options from it,
 * with environment overrides: what every CLI command that talks to the registry starts from.
 */
export function readWorkspace(cwd: string, env: NodeJS.ProcessEnv): Workspace {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const file = join(dir, 'nx.json');
    if (existsSync(file)) {
      let nxJson: NxJson;
      try {
        nxJson = JSON.parse(readFileSync(file, 'utf8')) as NxJson;
      } catch (error) {
        throw configError(`${file} is not valid JSON: ${(error as Error).message}`, 'Fix the JSON or run from the workspace root.');
      }
      const config = normalizeOptions(pluginOptions(nxJson), env);
      return { root: dir, nxJson, config: { ...config, caFile: config.caFile ? resolve(dir, config.caFile) : undefined, workspaceRoot: dir } };
    }
    if (dirname(dir) === dir) return { root: undefined, nxJson: {}, config: { ...normalizeOptions({}, env), workspaceRoot: undefined } };
  }
}

export function loadWorkspaceConfig(cwd: string, env: NodeJS.ProcessEnv): Workspace['config'] {
  return readWorkspace(cwd, env).config;
}

/** The upkeep commands' output: results on stdout, progress on stderr, rooted at `cwd`. */
export function upkeepIo(io: CommandIo): Io {
  return { root: io.cwd, env: io.env, out: (text) => io.stdout(text + '\n'), log: (line) => io.stderr(line + '\n') };
}
