import { connectRegistry } from '../../lib/pipeline/connect';
import { cleanupCommand, normalizeCleanupOptions } from '../../lib/retention/run';
import { flag, hasFlag, type Command } from '../command';
import { loadWorkspaceConfig, upkeepIo } from '../workspace';

export const command: Command = {
  summary: 'Plan (and with --apply, carry out) the retention cleanup of the registry.',
  help: [
    'usage: auren-registry cleanup [--apply] [--repositories a,b] [--json] [--journal-dir dir]',
    '                              [--concurrency n] [--compose-file file]',
    '                              [--delete-via auto|api|storage] [--storage-dir dir]',
    '',
    'Prints, per repository, every tag with its digest, kept or deleted, and the rule that decided',
    'it. Nothing changes without --apply (NX_DRY_RUN=true also forces a dry run). With --apply the',
    'manifests are first saved to an undo journal (.auren/journal/<timestamp>.json); each tag is',
    're-read just before its image is deleted and skipped if it moved. A killed run resumes into',
    'its journal the next time. Policy: retention in nx.json (keepReleases, keepPatterns,',
    'devMaxAgeDays, deleteUntagged, overrides per app); images in the compose file and the newest',
    'push records stay.',
    '',
    'On a distribution registry whose storage folder is on this machine (the embedded one, or',
    '--storage-dir), deletions remove the links a DELETE would remove, in the storage itself:',
    'distribution 2.8 reads every tag of the repository on each DELETE, which takes minutes on',
    'repositories of thousands of tags. Run it on the registry host, as a user that owns the folder.',
    '',
    'options:',
    '  --apply               delete what the plan says',
    '  --repositories a,b    only these repositories (default: all under the namespace)',
    '  --json                plan and outcomes as JSON on stdout',
    '  --journal-dir dir     undo journal folder (default .auren/journal)',
    '  --concurrency n       requests in flight (default 8)',
    '  --compose-file file   production compose file (default docker-compose.prod.yml)',
    '  --delete-via how      auto (default), api (DELETE requests) or storage (the storage folder)',
    '  --storage-dir dir     storage.filesystem.rootdirectory of a distribution registry here',
    '',
    'examples:',
    '  auren-registry cleanup',
    '  auren-registry cleanup --repositories auren-api --json > plan.json',
    '  auren-registry cleanup --apply && auren-registry gc',
    '  auren-registry cleanup --apply --storage-dir /var/lib/docker-registry   # on the registry host',
  ].join('\n'),
  async run(args, io) {
    const config = loadWorkspaceConfig(io.cwd, io.env);
    const concurrency = flag(args, 'concurrency');
    const options = normalizeCleanupOptions(
      {
        apply: hasFlag(args, 'apply'),
        repositories: flag(args, 'repositories'),
        json: hasFlag(args, 'json'),
        journalDir: flag(args, 'journal-dir'),
        concurrency: concurrency === undefined ? undefined : Number(concurrency),
        composeFile: flag(args, 'compose-file'),
        deleteVia: flag(args, 'delete-via') as 'auto' | 'api' | 'storage' | undefined,
        storageDir: flag(args, 'storage-dir'),
      },
      io.cwd,
      io.env,
    );
    const client = await connectRegistry(config, io.env);
    await cleanupCommand(client, config, options, upkeepIo(io));
    return 0;
  },
};
