import { connectRegistry } from '../lib/connect/connect';
import type { RegistryClient } from '../lib/registry/client';
import type { Io } from '../lib/retention/run';
import type { Command } from './command';
import type { CommandSpec } from './options';
import { loadWorkspaceConfig, upkeepIo } from './workspace';

/** What an upkeep command's use case runs with. */
export interface Upkeep {
  config: ReturnType<typeof loadWorkspaceConfig>;
  client: RegistryClient;
  /** Results on stdout, progress on stderr, rooted at the working folder. */
  io: Io;
}

/**
 * A registry upkeep command: one retention use case against the workspace's registry, the way
 * its executor runs it. The command says only what differs (its help and which use case it
 * calls); reading the workspace, connecting and the output streams are the same for all.
 */
export function upkeepCommand<Options>(command: {
  summary: string;
  spec: CommandSpec;
  run(options: Options, upkeep: Upkeep): Promise<number>;
}): Command {
  return {
    summary: command.summary,
    spec: command.spec,
    async run({ options }, io) {
      const config = loadWorkspaceConfig(io.cwd, io.env);
      const client = await connectRegistry(config, io.env);
      // The options were parsed and validated against `spec.schema`, the executor's own schema.
      return command.run(options as Options, { config, client, io: upkeepIo(io) });
    },
  };
}
