import { isDryRun } from '../../lib/config/precedence';
import { collectGarbage } from '../../lib/retention/run';
import type { GcExecutorSchema } from '../../executors/gc/schema';
import schema from '../../executors/gc/schema.json';
import { upkeepCommand } from '../upkeep';

export const command = upkeepCommand<GcExecutorSchema>({
  summary: 'Garbage-collect registry storage (local registry: read-only restart, collect, verify).',
  spec: {
    schema,
    about: [
      'Local registry: restarts it read-only (scripts/local-registry.sh of the plugin, AUREN_REGISTRY_READONLY=true),',
      'runs `docker-registry garbage-collect --delete-untagged=false`, restarts it normally, then HEADs',
      "every kept tag's manifests and blobs and reports the bytes reclaimed. The registry must run",
      'detached (nx run registry:serve:detach) or be stopped. Hosted registries: says what the',
      'provider does (Docker Hub, GHCR: automatic; DigitalOcean: its garbage-collection API).',
      'After gc, `restore` can no longer bring deleted images back. NX_DRY_RUN=true is --dry-run too.',
    ],
    examples: ['auren-registry gc --dry-run', 'auren-registry cleanup --apply && auren-registry gc'],
  },
  async run({ dryRun, json }, { client, io }) {
    await collectGarbage(client, { dryRun: isDryRun({ dryRun }, io.env), json: json === true }, io);
    return 0;
  },
});
