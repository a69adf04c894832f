import { join, resolve } from 'node:path';

/**
 * The plugin's own folder: libs/registry-plugin in this repository, node_modules/@auren/registry-plugin
 * once installed. The built package keeps the sources' layout (src/…, scripts/…), so a file the
 * plugin runs is found from this module in both, and never from the workspace's paths.
 */
export const PACKAGE_ROOT = resolve(__dirname, '..', '..');

/** A file shipped with the plugin, e.g. `packageFile('scripts', 'local-registry.sh')`. */
export function packageFile(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}

/** The local registry's control script (run, --detach, --stop, --status). */
export const LOCAL_REGISTRY_SCRIPT = packageFile('scripts', 'local-registry.sh');
