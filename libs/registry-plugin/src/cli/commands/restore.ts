import { restoreRegistry } from '../../lib/retention/run';
import type { RestoreExecutorSchema } from '../../executors/restore/schema';
import schema from '../../executors/restore/schema.json';
import { upkeepCommand } from '../upkeep';

export const command = upkeepCommand<RestoreExecutorSchema>({
  summary: 'Put back what a cleanup deleted, from its undo journal (before garbage collection).',
  spec: {
    schema,
    about: [
      'PUTs every saved manifest back by digest (platform manifests before their index), then its',
      'tags. A tag that now names a newer image is left alone. Works until `gc` removes the blobs.',
      'The whole journal is checked first (fields, digests, names, saved bytes): a damaged one',
      'restores nothing and the error names its first problem. While a cleanup --apply runs with',
      'the same journal folder, restore stops at once rather than race it.',
    ],
    examples: ['auren-registry restore', 'auren-registry restore --journal .auren/journal/2025-06-30T02-00-00-000Z.json'],
  },
  async run(options, { client, io }) {
    const result = await restoreRegistry(client, options, io);
    return result.items.some((i) => i.outcome === 'blobs-gone') ? 1 : 0;
  },
});
