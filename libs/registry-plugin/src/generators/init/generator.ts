import { logger, readNxJson, updateNxJson, type Tree } from '@nx/devkit';
import {
  DEFAULT_NAMESPACE,
  DEFAULT_REGISTRY,
  PLUGIN_NAME,
  registryOverride,
  validateNamespace,
  validateRegistryHost,
  type RegistryPluginOptions,
} from '../../lib/config/options';
import { withHints } from '../shared/errors';
import { baseImageMapping, findBaseImageProject, ignoreInGit, pluginEntry } from '../shared/workspace';
import type { InitGeneratorSchema } from './schema';

export { PLUGIN_NAME };

/**
 * The options `init` writes: the ones a reader most likely wants to change, spelled out with
 * their defaults (normalizeOptions applies the same defaults to anything left out).
 * `baseImages` maps the public Debian image to the in-house one only when the workspace builds it
 * (the base-image generator adds the mapping when it creates the project): a mapping to an image
 * nothing builds would break every build.
 */
export function defaultPluginOptions(registry: string, namespace: string, baseImages: Record<string, string> = {}): RegistryPluginOptions {
  return {
    registry,
    namespace,
    builder: 'auto',
    baseImages,
    scan: { scanner: 'trivy', severity: ['HIGH', 'CRITICAL'], ignoreUnfixed: false, ignore: [], allowUnscanned: 'loopback' },
    // SI bytes, as the monitor reports sizes (500 MB, 1 GB).
    budgets: { warnBytes: 500_000_000, failBytes: 1_000_000_000 },
  };
}

export function isPluginRegistered(tree: Tree): boolean {
  return pluginEntry(tree) !== undefined;
}

/**
 * Registry and namespace: the options, else AUREN_REGISTRY (`host[:port][/namespace]`, the
 * variable the plugin reads in CI), else the local defaults. `nx add` runs init without options,
 * so the variable is how a script names the registry there; a terminal gets the prompts.
 */
export function resolveRegistry(schema: InitGeneratorSchema, env: NodeJS.ProcessEnv): { registry: string; namespace: string } {
  // An empty answer to a prompt means "the default", as the prompts say.
  const registry = schema.registry?.trim() || undefined;
  const namespace = schema.namespace?.trim() || undefined;
  const fromEnv = registryOverride(env);
  return {
    registry: registry !== undefined ? validateRegistryHost(registry, '--registry') : (fromEnv?.registry ?? DEFAULT_REGISTRY),
    namespace: namespace !== undefined ? validateNamespace(namespace, '--namespace') : (fromEnv?.namespace ?? DEFAULT_NAMESPACE),
  };
}

export async function initGenerator(tree: Tree, schema: InitGeneratorSchema, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { registry, namespace } = resolveRegistry(schema, env);
  // Cleanup journals and the embedded registry's data are kept per machine, never committed.
  ignoreInGit(tree, ['.auren/'], '@auren/registry-plugin: cleanup journals and the local registry data');
  if (isPluginRegistered(tree)) {
    logger.info(`${PLUGIN_NAME} is already registered in nx.json; its options are left as they are.`);
    return;
  }
  const base = findBaseImageProject(tree);
  const nxJson = readNxJson(tree) ?? {};
  nxJson.plugins = [
    ...(nxJson.plugins ?? []),
    { plugin: PLUGIN_NAME, options: defaultPluginOptions(registry, namespace, base ? baseImageMapping(base, namespace) : {}) },
  ];
  updateNxJson(tree, nxJson);
  if (!base) {
    logger.info(`Builds use public base images as their Dockerfiles name them. For an in-house Debian base built from Debian packages: nx g ${PLUGIN_NAME}:base-image`);
  }
}

/** The entry Nx calls: errors carry their hint in the message. */
export default withHints((tree: Tree, schema: InitGeneratorSchema) => initGenerator(tree, schema));
