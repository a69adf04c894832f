import { connectRegistry } from '../../lib/pipeline/connect';
import { gcCommand } from '../../lib/retention/run';
import { hasFlag, type Command } from '../command';
import { loadWorkspaceConfig, upkeepIo } from '../workspace';

export const command: Command = {
  summary: 'Garbage-collect registry storage (local registry: read-only restart, collect, verify).',
  help: [
    'usage: auren-registry gc [--dry-run] [--json]',
    '',
    'Local registry: restarts it read-only (tools/registry/serve.sh with AUREN_REGISTRY_READONLY=true),',
    'runs `docker-registry garbage-collect --delete-untagged=false`, restarts it normally, then HEADs',
    "every kept tag's manifests and blobs and reports the bytes reclaimed. The registry must run",
    'detached (nx run registry:serve:detach) or be stopped. Hosted registries: says what the',
    'provider does (Docker Hub, GHCR: automatic; DigitalOcean: its garbage-collection API).',
    'After gc, `restore` can no longer bring deleted images back.',
    '',
    'options:',
    '  --dry-run   report what would be removed; no restart (also with NX_DRY_RUN=true)',
    '  --json      the report as JSON',
    '',
    'examples:',
    '  auren-registry gc --dry-run',
    '  auren-registry cleanup --apply && auren-registry gc',
  ].join('\n'),
  async run(args, io) {
    const config = loadWorkspaceConfig(io.cwd, io.env);
    const client = await connectRegistry(config, io.env);
    const dryRun = hasFlag(args, 'dry-run') || io.env.NX_DRY_RUN === 'true' || io.env.NX_DRY_RUN === '1';
    await gcCommand(client, { dryRun, json: hasFlag(args, 'json') }, upkeepIo(io));
    return 0;
  },
};
