import { formatError, exitCodeFor } from '../lib/errors/errors';
import { pushedTable, readPushRecords } from './pushed';

/**
 * `auren-registry`: thin commands over the plugin's library for cron jobs and people outside
 * Nx. Each command has --help with examples.
 */
interface Command {
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i === -1) return undefined;
  return args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1];
}

const commands: Record<string, Command> = {
  pushed: {
    summary: 'Table of what the last pipeline run pushed (from dist/images/*/push.json).',
    help: [
      'usage: auren-registry pushed [--format text|markdown|json]',
      '',
      'examples:',
      '  auren-registry pushed',
      '  auren-registry pushed --format markdown >> "$GITHUB_STEP_SUMMARY"',
    ].join('\n'),
    async run(args) {
      const format = (flag(args, 'format') ?? 'text') as 'text' | 'markdown' | 'json';
      const records = readPushRecords(process.cwd());
      if (!records.length && format !== 'json') {
        process.stdout.write('nothing pushed (no dist/images/*/push.json)\n');
        return 0;
      }
      process.stdout.write(pushedTable(records, format) + '\n');
      return 0;
    },
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'usage: auren-registry <command> [options]',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `auren-registry <command> --help` for a command\'s options and examples.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    process.stderr.write(formatError(error) + '\n');
    return exitCodeFor(error);
  }
}
