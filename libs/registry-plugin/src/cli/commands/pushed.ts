import type { Command } from '../command';
import schema from '../schemas/pushed.json';
import { pushedTable, readPushRecords } from '../pushed';

export const pushedCommand: Command = {
  summary: 'Table of what the last pipeline run pushed (from dist/images/*/push.json).',
  spec: {
    schema,
    examples: ['auren-registry pushed', 'auren-registry pushed --format markdown >> "$GITHUB_STEP_SUMMARY"'],
  },
  async run({ options }, io) {
    const format = (options.format ?? 'text') as 'text' | 'markdown' | 'json';
    const records = readPushRecords(io.cwd);
    if (!records.length && format !== 'json') {
      io.stdout('nothing pushed (no dist/images/*/push.json)\n');
      return 0;
    }
    io.stdout(pushedTable(records, format) + '\n');
    return 0;
  },
};
