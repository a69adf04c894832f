import { addProjectConfiguration, getProjects, joinPathFragments, type TargetConfiguration, type Tree } from '@nx/devkit';
import { PLUGIN_NAME } from '../../lib/config/options';
import { inputError } from '../../lib/errors/errors';
import { initGenerator, isPluginRegistered } from '../init/generator';
import { withHints } from '../shared/errors';
import type { RegistryGeneratorSchema } from './schema';

const NAME_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** What a target adds to the executor it runs: its description, and any settings of its own. */
type UpkeepTarget = Pick<TargetConfiguration, 'continuous' | 'cache' | 'options' | 'configurations'> & { description: string };

/**
 * The registry's upkeep, one target each, all run by the plugin's executor of the same name
 * (nothing to copy into the workspace): serve the embedded local registry, log in, retention
 * cleanup and its undo, garbage collection, monitoring, the offline Trivy database, mirroring
 * third-party images, and the deploy manifests.
 */
const UPKEEP: Record<string, UpkeepTarget> = {
  serve: {
    continuous: true,
    configurations: { detach: { action: 'detach' }, stop: { action: 'stop' }, status: { action: 'status' } },
    description: 'Run the embedded local registry (CNCF distribution) on 127.0.0.1:5000; :detach, :stop and :status manage a background one.',
  },
  'trivy-db': {
    cache: false,
    description:
      "Publish Trivy's vulnerability database as <namespace>/trivy-db:2 in the configured registry, where scan finds it offline: mirrored with --from=ghcr.io/aquasecurity/trivy-db:2, or built from an advisories file (--advisories).",
  },
  login: {
    description: 'Log in to the configured registry (CI: AUREN_REGISTRY_USERNAME/PASSWORD or provider variables; locally: --passwordStdin).',
  },
  'kubernetes-manifest': {
    cache: false,
    description:
      'Print a Secret of type kubernetes.io/dockerconfigjson for the configured registry (like `doctl registry kubernetes-manifest`); --namespace, --name, --output.',
  },
  'deploy-manifest': {
    configurations: { signed: { requireSignature: true, failOnMissing: true } },
    description: 'Write dist/deploy/docker-compose.override.yml pinning each service of docker-compose.prod.yml to the digest of its newest push record.',
  },
  monitor: {
    cache: false,
    options: { format: 'text' },
    configurations: {
      prometheus: { format: 'prometheus', output: 'dist/monitor/auren.prom' },
      html: { format: 'html', output: 'dist/monitor/report.html' },
      markdown: { format: 'markdown' },
    },
    description: 'Registry health and size monitoring against the thresholds in nx.json.',
  },
  cleanup: { description: 'Print the retention plan; --apply deletes (undo journal in .auren/journal).' },
  restore: { description: 'Restore a cleanup from its journal (--journal file; default the newest).' },
  gc: { description: 'Garbage-collect the registry (local: read-only restart, collect, verify).' },
  mirror: {
    cache: false,
    description:
      "Copy third-party images (--images, default the images of docker-compose.yml's services without a build) into our registry by digest, all platforms.",
  },
};

/** The upkeep targets as project.json holds them: the executor first, the description last. */
export function registryTargets(): Record<string, TargetConfiguration> {
  const target = (name: string, { continuous, cache, options = {}, configurations, description }: UpkeepTarget): TargetConfiguration => ({
    executor: `${PLUGIN_NAME}:${name}`,
    ...(continuous === undefined ? {} : { continuous }),
    ...(cache === undefined ? {} : { cache }),
    options,
    ...(configurations ? { configurations } : {}),
    metadata: { description },
  });
  return Object.fromEntries(Object.entries(UPKEEP).map(([name, settings]) => [name, target(name, settings)]));
}

export async function registryGenerator(tree: Tree, schema: RegistryGeneratorSchema): Promise<void> {
  const name = (schema.name ?? 'registry').trim();
  if (!NAME_RE.test(name)) throw inputError(`invalid project name "${name}"`, 'Use lower-case letters and digits separated by "-", e.g. registry.');
  if (getProjects(tree).has(name)) throw inputError(`a project named "${name}" already exists`, 'Choose another name with --name.');
  const projectRoot = (schema.directory ?? joinPathFragments('tools', name)).replace(/\/+$/, '');
  if (tree.exists(joinPathFragments(projectRoot, 'project.json'))) {
    throw inputError(`${projectRoot} already holds a project`, 'Choose another --directory.');
  }
  if (!isPluginRegistered(tree)) await initGenerator(tree, {});
  addProjectConfiguration(tree, name, { root: projectRoot, projectType: 'application', tags: ['type:tool'], targets: registryTargets() });
}

/** The entry Nx calls: errors carry their hint in the message. */
export default withHints(registryGenerator);
