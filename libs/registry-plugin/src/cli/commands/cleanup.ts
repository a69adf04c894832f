import { connectRegistry } from '../../lib/connect/connect';
import { cleanRegistry, normalizeCleanupOptions } from '../../lib/retention/run';
import type { CleanupExecutorSchema } from '../../executors/cleanup/schema';
import schema from '../../executors/cleanup/schema.json';
import type { Command } from '../command';
import { loadWorkspaceConfig, upkeepIo } from '../workspace';

export const command: Command = {
  summary: 'Plan (and with --apply, carry out) the retention cleanup of the registry.',
  spec: {
    schema,
    about: [
      'Prints, per repository, every tag with its digest, kept or deleted, and the rule that decided',
      'it. Nothing changes without --apply (NX_DRY_RUN=true also forces a dry run). With --apply the',
      'manifests are first saved to an undo journal (.auren/journal/<timestamp>.json); each tag is',
      're-read just before its image is deleted and skipped if it moved. A killed run resumes into',
      'its journal the next time. One --apply run at a time per journal folder: a second one stops',
      'at once, naming the first (pid, start) and its lock file (.auren/journal/cleanup.lock).',
      'Policy: retention in nx.json (keepReleases, keepPatterns,',
      'devMaxAgeDays, deleteUntagged, overrides per app); images in the compose file and the newest',
      'push records stay. Development and branch images are aged by their last push in the push',
      'history (<namespace>/auren-history) or a date tag, never by the image config\'s created time',
      '(1970 in reproducible builds); an image whose age is not known is kept (rule age-unknown).',
      '',
      'On a distribution registry whose storage folder is on this machine (the embedded one, or',
      '--storage-dir), deletions remove the links a DELETE would remove, in the storage itself.',
      'Run it on the registry host, as a user that owns the folder.',
    ],
    examples: [
      'auren-registry cleanup',
      'auren-registry cleanup --repositories auren-api --json > plan.json',
      'auren-registry cleanup --apply && auren-registry gc',
      'auren-registry cleanup --apply --storage-dir /var/lib/docker-registry   # on the registry host',
    ],
  },
  async run({ options: parsed }, io) {
    const config = loadWorkspaceConfig(io.cwd, io.env);
    const options = normalizeCleanupOptions(
      parsed as CleanupExecutorSchema,
      io.cwd,
      io.env,
    );
    const client = await connectRegistry(config, io.env);
    await cleanRegistry(client, config, options, upkeepIo(io));
    return 0;
  },
};
