import { logger, readNxJson, updateNxJson, type Tree } from '@nx/devkit';
import {
  DEFAULT_NAMESPACE,
  DEFAULT_REGISTRY,
  PLUGIN_NAME,
  validateNamespace,
  validateRegistryHost,
  type RegistryPluginOptions,
} from '../../lib/config/options';
import { withHints } from '../shared/errors';
import type { InitGeneratorSchema } from './schema';

export { PLUGIN_NAME };

/**
 * The options `init` writes: the ones a reader most likely wants to change, spelled out with
 * their defaults (normalizeOptions applies the same defaults to anything left out).
 */
export function defaultPluginOptions(registry: string, namespace: string): RegistryPluginOptions {
  return {
    registry,
    namespace,
    builder: 'auto',
    baseImages: { 'debian:bookworm-slim': '{registry}/base/debian:bookworm' },
    scan: { scanner: 'trivy', severity: ['HIGH', 'CRITICAL'], ignoreUnfixed: false, ignore: [], allowUnscanned: 'loopback' },
    budgets: { warnBytes: 500 * 1024 * 1024, failBytes: 1024 * 1024 * 1024 },
  };
}

export function isPluginRegistered(tree: Tree): boolean {
  const plugins = readNxJson(tree)?.plugins ?? [];
  return plugins.some((p) => (typeof p === 'string' ? p : p.plugin) === PLUGIN_NAME);
}

export async function initGenerator(tree: Tree, schema: InitGeneratorSchema): Promise<void> {
  const registry = validateRegistryHost(schema.registry ?? DEFAULT_REGISTRY, '--registry');
  const namespace = validateNamespace(schema.namespace ?? DEFAULT_NAMESPACE, '--namespace');
  const nxJson = readNxJson(tree) ?? {};
  if (isPluginRegistered(tree)) {
    logger.info(`${PLUGIN_NAME} is already registered in nx.json; its options are left as they are.`);
    return;
  }
  nxJson.plugins = [...(nxJson.plugins ?? []), { plugin: PLUGIN_NAME, options: defaultPluginOptions(registry, namespace) }];
  updateNxJson(tree, nxJson);
}

/** The entry Nx calls: errors carry their hint in the message. */
export default withHints(initGenerator);
