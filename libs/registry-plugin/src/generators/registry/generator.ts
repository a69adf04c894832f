import { addProjectConfiguration, getProjects, joinPathFragments, type TargetConfiguration, type Tree } from '@nx/devkit';
import { PLUGIN_NAME } from '../../lib/config/options';
import { inputError } from '../../lib/errors/errors';
import { initGenerator, isPluginRegistered } from '../init/generator';
import { withHints } from '../shared/errors';
import type { RegistryGeneratorSchema } from './schema';

const NAME_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * The registry's upkeep, one target each, all run by the plugin's executors (nothing to copy into
 * the workspace): serve the embedded local registry, log in, retention cleanup and its undo,
 * garbage collection, monitoring, the offline Trivy database, mirroring third-party images, and
 * the deploy manifests.
 */
export function registryTargets(): Record<string, TargetConfiguration> {
  const executor = (name: string) => `${PLUGIN_NAME}:${name}`;
  return {
    serve: {
      executor: executor('serve'),
      continuous: true,
      options: {},
      configurations: { detach: { action: 'detach' }, stop: { action: 'stop' }, status: { action: 'status' } },
      metadata: { description: 'Run the embedded local registry (CNCF distribution) on 127.0.0.1:5000; :detach, :stop and :status manage a background one.' },
    },
    'trivy-db': {
      executor: executor('trivy-db'),
      cache: false,
      options: {},
      metadata: {
        description: "Publish Trivy's vulnerability database as <namespace>/trivy-db:2 in the configured registry, where scan finds it offline: mirrored with --from=ghcr.io/aquasecurity/trivy-db:2, or built from an advisories file (--advisories).",
      },
    },
    login: {
      executor: executor('login'),
      options: {},
      metadata: { description: 'Log in to the configured registry (CI: AUREN_REGISTRY_USERNAME/PASSWORD or provider variables; locally: --passwordStdin).' },
    },
    'kubernetes-manifest': {
      executor: executor('kubernetes-manifest'),
      cache: false,
      options: {},
      metadata: {
        description: 'Print a Secret of type kubernetes.io/dockerconfigjson for the configured registry (like `doctl registry kubernetes-manifest`); --namespace, --name, --output.',
      },
    },
    'deploy-manifest': {
      executor: executor('deploy-manifest'),
      options: {},
      configurations: { signed: { requireSignature: true, failOnMissing: true } },
      metadata: {
        description: 'Write dist/deploy/docker-compose.override.yml pinning each service of docker-compose.prod.yml to the digest of its newest push record.',
      },
    },
    monitor: {
      executor: executor('monitor'),
      cache: false,
      options: { format: 'text' },
      configurations: {
        prometheus: { format: 'prometheus', output: 'dist/monitor/auren.prom' },
        html: { format: 'html', output: 'dist/monitor/report.html' },
        markdown: { format: 'markdown' },
      },
      metadata: { description: 'Registry health and size monitoring against the thresholds in nx.json.' },
    },
    cleanup: {
      executor: executor('cleanup'),
      options: {},
      metadata: { description: 'Print the retention plan; --apply deletes (undo journal in .auren/journal).' },
    },
    restore: {
      executor: executor('restore'),
      options: {},
      metadata: { description: 'Restore a cleanup from its journal (--journal file; default the newest).' },
    },
    gc: {
      executor: executor('gc'),
      options: {},
      metadata: { description: 'Garbage-collect the registry (local: read-only restart, collect, verify).' },
    },
    mirror: {
      executor: executor('mirror'),
      cache: false,
      options: {},
      metadata: {
        description: "Copy third-party images (--images, default the images of docker-compose.yml's services without a build) into our registry by digest, all platforms.",
      },
    },
  };
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
