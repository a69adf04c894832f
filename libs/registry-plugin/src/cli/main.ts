import { exitCodeFor, formatError } from '../lib/errors/errors';
import type { Command, CommandIo } from './command';
import { parseCommandLine, renderHelp } from './options';
import { command as cleanupCommand } from './commands/cleanup';
import { command as gcCommand } from './commands/gc';
import { inspectCommand } from './commands/inspect';
import { loginCommand } from './commands/login';
import { lsCommand } from './commands/ls';
import { mirrorCommand } from './commands/mirror';
import { monitorCommand } from './commands/monitor';
import { promoteCommand } from './commands/promote';
import { pushedCommand } from './commands/pushed';
import { command as restoreCommand } from './commands/restore';

/**
 * `auren-registry`: thin commands over the plugin's library, for cron jobs and people outside
 * Nx. Every command's flags and --help come from its schema (options.ts).
 */
export const commands: Record<string, Command> = {
  ls: lsCommand,
  inspect: inspectCommand,
  login: loginCommand,
  monitor: monitorCommand,
  pushed: pushedCommand,
  promote: promoteCommand,
  mirror: mirrorCommand,
  cleanup: cleanupCommand,
  restore: restoreCommand,
  gc: gcCommand,
};

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
  const command = commands[name];
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
