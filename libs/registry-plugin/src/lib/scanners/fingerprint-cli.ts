#!/usr/bin/env node
/**
 * Prints `scannerFingerprint` for the workspace's scan policy, for the scan target's Nx runtime
 * cache input (plugin/create-nodes.ts runs it through bin/scanner-fingerprint.js).
 * The scanner comes from `--scanner <name>`, else AUREN_SCANNER / the plugin options in nx.json
 * (through normalizeOptions, so the default is the same one the scan target uses).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeOptions, type RegistryPluginOptions } from '../config/options';
import { formatError } from '../errors/errors';
import { resolveScanDatabase } from './database';
import { scannerFingerprint } from './fingerprint';

function pluginOptions(root: string): RegistryPluginOptions | undefined {
  try {
    const nxJson = JSON.parse(readFileSync(join(root, 'nx.json'), 'utf8')) as { plugins?: Array<string | { plugin: string; options?: unknown }> };
    const entry = (nxJson.plugins ?? []).find((p) => typeof p === 'object' && /registry-plugin/.test(p.plugin));
    return typeof entry === 'object' ? (entry.options as RegistryPluginOptions | undefined) : undefined;
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<void> {
  // Nx hashes everything this prints, stderr included: timings (AUREN_TRACE) would change the
  // scan's cache key on every run.
  delete process.env['AUREN_TRACE'];
  const flag = argv.indexOf('--scanner');
  // Nx runs a runtime input in the workspace root. NX_WORKSPACE_ROOT is not asked: an outer Nx
  // run (a test that drives a clone, a task that runs nx) leaves it naming another workspace,
  // whose nx.json would then pick the registry and scanner this key names.
  const root = process.cwd();
  const options = pluginOptions(root) ?? {};
  const env = flag !== -1 && argv[flag + 1] ? { ...process.env, AUREN_SCANNER: argv[flag + 1] } : process.env;
  const config = normalizeOptions(options, env);
  process.stdout.write(`${await scannerFingerprint(config.scan, env, await resolveScanDatabase(config, config.scan.scanner, env))}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${formatError(error)}\n`);
  process.exitCode = 2;
});
