/** One `auren-registry` sub-command. `run` returns the process exit code. */
export interface Command {
  /** One line for the command list. */
  summary: string;
  /** Full --help text: usage, options, examples. */
  help: string;
  run(args: string[], io: CommandIo): Promise<number>;
}

export interface CommandIo {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** `--name value` or `--name=value`. */
export function flag(args: readonly string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i === -1) return undefined;
  return args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1];
}

export function hasFlag(args: readonly string[], name: string): boolean {
  return args.includes(`--${name}`);
}
