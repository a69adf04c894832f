import { isAbsolute, join, resolve } from 'node:path';
import { validateRegistryHost } from '../../lib/config/options';
import { inputError } from '../../lib/errors/errors';
import { composeThirdPartyImages, MIRROR_RECORD, mirrorFailure, mirrorRecordEntries, parseRegistryTarget, runMirrorImages, splitList } from '../../lib/promote';
import { flag, hasFlag, type Command } from '../command';
import { loadWorkspaceConfig } from '../workspace';

const VALUE_FLAGS = ['registry', 'source-registry', 'compose', 'images'];
const BOOLEAN_FLAGS = ['dry-run', 'json'];

function positionals(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--')) {
      const name = a.slice(2).split('=')[0];
      if (VALUE_FLAGS.includes(name)) {
        if (!a.includes('=')) i++;
      } else if (!BOOLEAN_FLAGS.includes(name)) {
        throw inputError(`unknown option ${a}`, 'See `auren-registry mirror --help`.');
      }
      continue;
    }
    out.push(a);
  }
  return out;
}

export const mirrorCommand: Command = {
  summary: 'Copy third-party images (all platforms, by digest) into our registry under <namespace>/mirror/.',
  help: [
    'usage: auren-registry mirror [<image>…] [--images a,b] [--compose docker-compose.yml]',
    '                             [--registry host[:port][/namespace]] [--source-registry host[:port]]',
    '                             [--dry-run] [--json]',
    '',
    'Copies each image, with every platform of its index and byte for byte (same digest), to',
    '<registry>/<namespace>/mirror/<name>:<tag>: redis:7-alpine → …/mirror/redis:7-alpine,',
    'confluentinc/cp-kafka:7.4.0 → …/mirror/confluentinc/cp-kafka:7.4.0. Only blobs our registry',
    'lacks are copied. Without images, the services of the compose file (default the workspace\'s',
    'docker-compose.yml) that have no build section are mirrored.',
    'The plan is printed first; --dry-run stops there. When run in a workspace, the digest-pinned',
    `references are recorded in ${MIRROR_RECORD}.`,
    '--registry defaults to the configured registry (nx.json or AUREN_REGISTRY).',
    '--source-registry reads every image from that registry instead (same repository path, e.g.',
    'library/redis): a pull-through cache, or a local registry in tests.',
    'Our registry\'s credentials (AUREN_REGISTRY_USERNAME/PASSWORD) are never sent to the source;',
    'Docker Hub gets DOCKERHUB_USERNAME/DOCKERHUB_TOKEN, docker\'s config.json, or anonymous pulls.',
    '',
    'examples:',
    '  auren-registry mirror --dry-run',
    '  auren-registry mirror redis:7-alpine timescale/timescaledb:latest-pg16',
    '  auren-registry mirror --registry registry.digitalocean.com/auren --json',
    '  auren-registry mirror library/redis:7-alpine --source-registry 127.0.0.1:5001 --registry 127.0.0.1:5000/auren',
  ].join('\n'),
  async run(args, io) {
    const positional = positionals(args);
    const base = loadWorkspaceConfig(io.cwd, io.env);
    const registryFlag = flag(args, 'registry');
    const destination = registryFlag ? parseRegistryTarget(registryFlag, '--registry') : undefined;
    const config = destination ? { ...base, registry: destination.registry, namespace: destination.namespace ?? base.namespace } : base;
    const sourceFlag = flag(args, 'source-registry');
    const sourceRegistry = sourceFlag ? validateRegistryHost(sourceFlag, '--source-registry') : undefined;

    let images = [...positional, ...splitList(flag(args, 'images'))];
    if (!images.length) {
      const compose = flag(args, 'compose') ?? join(base.workspaceRoot ?? io.cwd, 'docker-compose.yml');
      images = composeThirdPartyImages(isAbsolute(compose) ? compose : resolve(io.cwd, compose), io.env);
    }
    const json = hasFlag(args, 'json');
    const dryRun = hasFlag(args, 'dry-run');
    if (!images.length) {
      io.stdout(json ? '{ "images": [] }\n' : 'mirror: no third-party images to mirror\n');
      return 0;
    }
    const outcomes = await runMirrorImages({
      images,
      sourceRegistry,
      config,
      env: io.env,
      dryRun,
      recordPath: base.workspaceRoot ? join(base.workspaceRoot, MIRROR_RECORD) : undefined,
      log: (line) => (json ? undefined : io.stdout(line + '\n')),
    });
    if (json) {
      const done = mirrorRecordEntries(config.registry, outcomes);
      io.stdout(
        JSON.stringify(
          {
            registry: config.registry,
            dryRun,
            images: outcomes.map((o) => ({
              image: o.entry.image,
              status: o.status,
              digest: o.plan?.source.digest,
              platforms: o.plan?.source.platforms,
              target: `${config.registry}/${o.entry.target.repository}`,
              tags: o.entry.target.tags,
              pinned: done.find((d) => d.image === o.entry.image)?.pinned,
              error: o.error,
            })),
          },
          null,
          2,
        ) + '\n',
      );
    }
    const failure = mirrorFailure(outcomes);
    if (failure) throw failure;
    return 0;
  },
};
