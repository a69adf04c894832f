import { exitCodeFor, formatError } from '../lib/errors/errors';
import type { Command, CommandIo } from './command';
import { parseCommandLine, renderHelp } from './options';

/**
 * `auren-registry`: thin commands over the plugin's library, for cron jobs and people outside
 * Nx. Every command's flags and --help come from its schema (options.ts).
 *
 * Each command's module is loaded when the command is first named: a run loads only its own
 * (`released`, npm start's first step on a new machine, does not compile the upkeep commands).
 */
const loaders: Record<string, () => Command> = {
  ls: () => (require('./commands/ls') as typeof import('./commands/ls')).lsCommand,
  inspect: () => (require('./commands/inspect') as typeof import('./commands/inspect')).inspectCommand,
  login: () => (require('./commands/login') as typeof import('./commands/login')).loginCommand,
  monitor: () => (require('./commands/monitor') as typeof import('./commands/monitor')).monitorCommand,
  pushed: () => (require('./commands/pushed') as typeof import('./commands/pushed')).pushedCommand,
  released: () => (require('./commands/released') as typeof import('./commands/released')).releasedCommand,
  promote: () => (require('./commands/promote') as typeof import('./commands/promote')).promoteCommand,
  mirror: () => (require('./commands/mirror') as typeof import('./commands/mirror')).mirrorCommand,
  cleanup: () => (require('./commands/cleanup') as typeof import('./commands/cleanup')).command,
  restore: () => (require('./commands/restore') as typeof import('./commands/restore')).command,
  gc: () => (require('./commands/gc') as typeof import('./commands/gc')).command,
};

export const commands: Record<string, Command> = Object.defineProperties(
  {},
  Object.fromEntries(Object.entries(loaders).map(([name, load]) => [name, { enumerable: true, get: load }])),
);

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'usage: auren-registry <command> [options]',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `auren-registry <command> --help` for a command's options and examples.",
  ].join('\n');
}

export async function main(argv: string[], io: CommandIo = defaultIo()): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage() + '\n');
    return name ? 0 : 2;
  }
  // Own names only: `constructor` or `__proto__` is not a command.
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    io.stderr(`unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(renderHelp(name, command.spec) + '\n');
    return 0;
  }
  try {
    return await command.run(parseCommandLine(name, command.spec, args), io);
  } catch (error) {
    io.stderr(formatError(error, io.env) + '\n');
    return exitCodeFor(error);
  }
}

function defaultIo(): CommandIo {
  return {
    cwd: process.cwd(),
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}
