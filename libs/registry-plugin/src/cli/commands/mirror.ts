import { isAbsolute, join, resolve } from 'node:path';
import { validateRegistryHost } from '../../lib/config/options';
import { splitList } from '../../lib/config/lists';
import { composeThirdPartyImages, MIRROR_RECORD, mirrorFailure, mirrorRecordEntries, parseRegistryTarget, mirrorImages } from '../../lib/promote';
import type { MirrorExecutorSchema } from '../../executors/mirror/schema';
import schema from '../../executors/mirror/schema.json';
import type { Command } from '../command';
import { loadWorkspaceConfig } from '../workspace';

export const mirrorCommand: Command = {
  summary: 'Copy third-party images (all platforms, by digest) into our registry under <namespace>/mirror/.',
  spec: {
    schema,
    cli: {
      registry: { type: 'string', description: 'Our registry, host[:port][/namespace] (default: the configured registry and namespace).' },
      json: { type: 'boolean', description: 'Print the outcome of every image as JSON.' },
    },
    // --compose was this flag's name before the options came from the executor's schema.
    aliases: { compose: 'composeFile' },
    positionals: [{ name: 'image', description: 'Images to mirror, e.g. redis:7-alpine (also --images a,b).', variadic: true }],
    about: [
      'Copies each image, with every platform of its index and byte for byte (same digest), to',
      '<registry>/<namespace>/mirror/<name>:<tag>: redis:7-alpine → …/mirror/redis:7-alpine. Only blobs',
      'our registry lacks are copied; signatures, SBOMs and attestations attached upstream come along.',
      'Tags follow upstream, except version tags (v1.2.3): one already mirrored under another image',
      'is never moved (the mirror fails naming both digests).',
      "Without images, the services of the compose file (default the",
      "workspace's docker-compose.yml) that have no build section are mirrored.",
      'The plan is printed first; --dry-run stops there. When run in a workspace, the digest-pinned',
      `references are recorded in ${MIRROR_RECORD}.`,
      'Our registry\'s credentials (AUREN_REGISTRY_USERNAME/PASSWORD) are never sent to the source;',
      'Docker Hub gets DOCKERHUB_USERNAME/DOCKERHUB_TOKEN, docker\'s config.json, or anonymous pulls.',
    ],
    examples: [
      'auren-registry mirror --dry-run',
      'auren-registry mirror redis:7-alpine timescale/timescaledb:latest-pg16',
      'auren-registry mirror --registry registry.digitalocean.com/auren --json',
      'auren-registry mirror library/redis:7-alpine --source-registry 127.0.0.1:5001 --registry 127.0.0.1:5000/auren',
    ],
  },
  async run({ options, positionals }, io) {
    const flags = options as MirrorExecutorSchema & { registry?: string; json?: boolean };
    const base = loadWorkspaceConfig(io.cwd, io.env);
    const registryFlag = flags.registry;
    const destination = registryFlag ? parseRegistryTarget(registryFlag, '--registry') : undefined;
    const config = destination ? { ...base, registry: destination.registry, namespace: destination.namespace ?? base.namespace } : base;
    const sourceFlag = flags.sourceRegistry;
    const sourceRegistry = sourceFlag ? validateRegistryHost(sourceFlag, '--source-registry') : undefined;

    let images = [...positionals, ...splitList(flags.images)];
    if (!images.length) {
      const compose = flags.composeFile ?? join(base.workspaceRoot ?? io.cwd, 'docker-compose.yml');
      images = composeThirdPartyImages(isAbsolute(compose) ? compose : resolve(io.cwd, compose), io.env);
    }
    const json = flags.json === true;
    const dryRun = flags.dryRun === true;
    if (!images.length) {
      io.stdout(json ? '{ "images": [] }\n' : 'mirror: no third-party images to mirror\n');
      return 0;
    }
    const outcomes = await mirrorImages({
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
