import { connectRegistry } from '../../lib/pipeline/connect';
import { restoreCommand } from '../../lib/retention/run';
import { flag, hasFlag, type Command } from '../command';
import { loadWorkspaceConfig, upkeepIo } from '../workspace';

export const command: Command = {
  summary: 'Put back what a cleanup deleted, from its undo journal (before garbage collection).',
  help: [
    'usage: auren-registry restore [--journal file] [--journal-dir dir] [--json]',
    '',
    'PUTs every saved manifest back by digest (platform manifests before their index), then its',
    'tags. A tag that now names a newer image is left alone. Works until `gc` removes the blobs.',
    '',
    'options:',
    '  --journal file      journal to restore (default: the newest in the journal folder)',
    '  --journal-dir dir   journal folder (default .auren/journal)',
    '  --json              every outcome as JSON',
    '',
    'examples:',
    '  auren-registry restore',
    '  auren-registry restore --journal .auren/journal/2025-06-30T02-00-00-000Z.json',
  ].join('\n'),
  async run(args, io) {
    const config = loadWorkspaceConfig(io.cwd, io.env);
    const client = await connectRegistry(config, io.env);
    const result = await restoreCommand(
      client,
      { journal: flag(args, 'journal'), journalDir: flag(args, 'journal-dir'), json: hasFlag(args, 'json') },
      upkeepIo(io),
    );
    return result.items.some((i) => i.outcome === 'blobs-gone') ? 1 : 0;
  },
};
