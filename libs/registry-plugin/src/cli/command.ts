import type { CommandSpec, ParsedCommandLine } from './options';

/**
 * One `auren-registry` sub-command. Its flags, --help and validation come from `spec` (see
 * options.ts); `run` gets the parsed options and returns the process exit code.
 */
export interface Command {
  /** One line for the command list. */
  summary: string;
  spec: CommandSpec;
  run(input: ParsedCommandLine, io: CommandIo): Promise<number>;
}

export interface CommandIo {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}
