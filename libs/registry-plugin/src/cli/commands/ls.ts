import { connectRegistry } from '../../lib/connect/connect';
import { textTable } from '../../lib/reports/format';
import type { Command, CommandIo } from '../command';
import schema from '../schemas/ls.json';
import { loadWorkspaceConfig } from '../workspace';

interface LsOptions {
  registry?: string;
  json?: boolean;
}

interface TagRow {
  tag: string;
  digest: string | undefined;
  mediaType: string | undefined;
}

async function listRepository(io: CommandIo, options: LsOptions, repository: string): Promise<number> {
  const config = loadWorkspaceConfig(io.cwd, io.env);
  const registry = options.registry ?? config.registry;
  const client = await connectRegistry(config, io.env, registry);
  const tags = (await client.tagList(repository)).sort();
  const rows: TagRow[] = [];
  // HEAD is cheap and answers with the digest; a handful at a time keeps registries happy.
  for (let i = 0; i < tags.length; i += 8) {
    const batch = await Promise.all(
      tags.slice(i, i + 8).map(async (tag) => {
        const head = await client.manifestHead(repository, tag);
        return head === 'not-found' ? { tag, digest: undefined, mediaType: undefined } : { tag, digest: head.digest, mediaType: head.mediaType };
      }),
    );
    rows.push(...batch);
  }
  if (options.json) {
    io.stdout(JSON.stringify({ registry, repository, tags: rows }, null, 2) + '\n');
    return 0;
  }
  if (!rows.length) {
    io.stdout(`${registry}/${repository}: no tags\n`);
    return 0;
  }
  io.stdout(textTable(['tag', 'digest', 'type'], rows.map((r) => [r.tag, r.digest ?? '(gone)', shortType(r.mediaType)])) + '\n');
  return 0;
}

function shortType(mediaType: string | undefined): string {
  if (!mediaType) return '';
  if (mediaType.includes('index') || mediaType.includes('manifest.list')) return 'index';
  return 'manifest';
}

async function listRegistry(io: CommandIo, options: LsOptions): Promise<number> {
  const config = loadWorkspaceConfig(io.cwd, io.env);
  const registry = options.registry ?? config.registry;
  const client = await connectRegistry(config, io.env, registry);
  const repositories = (await client.catalogList()).sort();
  const result: Array<{ repository: string; tags: string[] }> = [];
  for (const repository of repositories) result.push({ repository, tags: (await client.tagList(repository)).sort() });
  if (options.json) {
    io.stdout(JSON.stringify({ registry, repositories: result }, null, 2) + '\n');
    return 0;
  }
  if (!result.length) {
    io.stdout(`${registry}: no repositories\n`);
    return 0;
  }
  io.stdout(textTable(['repository', 'tags'], result.map((r) => [r.repository, r.tags.join(', ') || '(none)'])) + '\n');
  return 0;
}

export const lsCommand: Command = {
  summary: 'List repositories and their tags, or one repository\'s tags with digests.',
  spec: {
    schema,
    positionals: [{ name: 'repository', description: 'Repository to list the tags of, e.g. auren/auren-api.' }],
    examples: ['auren-registry ls', 'auren-registry ls auren/auren-api', "auren-registry ls auren/biometric-bridge --json | jq -r '.tags[].digest'"],
  },
  async run({ options, positionals }, io) {
    const flags = options as LsOptions;
    return positionals[0] ? listRepository(io, flags, positionals[0]) : listRegistry(io, flags);
  },
};
