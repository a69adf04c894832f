#!/usr/bin/env node
/**
 * Prints `scannerFingerprint` for the workspace's scan policy, for the scan target's Nx runtime
 * cache input (plugin/create-nodes.ts runs it through bin/scanner-fingerprint.js), plus how many
 * accepted findings have expired (`expiredAcceptances`).
 *
 * It runs once per scan task of every Nx command, so it is kept cheap: it reads only the options
 * it needs from nx.json (createNodes has already checked them against the schema, and the scan
 * checks them again), asks the scanner for its version once per machine (tool-identity.ts), and
 * probes the registry for a served database once, briefly (database-probe.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_NAMESPACE, DEFAULT_REGISTRY } from '../config/defaults';
import type { RegistryPluginOptions, ScannerName } from '../config/options';
// precedence.ts and registry-address.ts, not options.ts: the same reading of the environment
// without loading the schema validator.
import { environmentValue, resolveSetting } from '../config/precedence';
import { registryOverride } from '../config/registry-address';
import { formatError } from '../errors/errors';
import { probeScanDatabase } from './database-probe';
import { expiredAcceptances, scannerFingerprint } from './fingerprint';
import { loadVexDocuments } from './vex';

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
  const env = process.env;
  // The one precedence rule, as the scan applies it: AUREN_SCANNER, --scanner, nx.json, trivy.
  const scanner = resolveSetting<ScannerName>({
    environment: environmentValue(env, 'AUREN_SCANNER') as ScannerName | undefined,
    option: (flag !== -1 && (argv[flag + 1] as ScannerName)) || undefined,
    plugin: options.scan?.scanner,
    fallback: 'trivy',
  });
  const override = registryOverride(env);
  const registry = {
    registry: override?.registry ?? options.registry ?? DEFAULT_REGISTRY,
    namespace: override?.namespace ?? options.namespace ?? DEFAULT_NAMESPACE,
    insecureRegistries: options.insecureRegistries ?? [],
    caFile: options.caFile,
  };
  const now = new Date();
  const [database, vex] = await Promise.all([
    probeScanDatabase(registry, scanner, env),
    loadVexDocuments(options.scan?.vex ?? [], root, now),
  ]);
  const line = await scannerFingerprint({ scanner }, env, database);
  const expired = expiredAcceptances(options.scan?.ignore ?? [], vex, now);
  process.stdout.write(`${line}${expired ? ` expired-acceptances=${expired}` : ''}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${formatError(error)}\n`);
  process.exitCode = 2;
});
