import { flag, type Command } from '../command';
import { pushedTable, readPushRecords } from '../pushed';

export const pushedCommand: Command = {
  summary: 'Table of what the last pipeline run pushed (from dist/images/*/push.json).',
  help: [
    'usage: auren-registry pushed [--format text|markdown|json]',
    '',
    'examples:',
    '  auren-registry pushed',
    '  auren-registry pushed --format markdown >> "$GITHUB_STEP_SUMMARY"',
  ].join('\n'),
  async run(args, io) {
    const format = (flag(args, 'format') ?? 'text') as 'text' | 'markdown' | 'json';
    const records = readPushRecords(io.cwd);
    if (!records.length && format !== 'json') {
      io.stdout('nothing pushed (no dist/images/*/push.json)\n');
      return 0;
    }
    io.stdout(pushedTable(records, format) + '\n');
    return 0;
  },
};
