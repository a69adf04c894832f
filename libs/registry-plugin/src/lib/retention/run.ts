import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { embeddedRegistry } from '../config/embedded-registry';
import { splitList } from '../config/lists';
import { retentionFor, type AurenConfig } from '../config/options';
import { isDryRun } from '../config/precedence';
import { inputError } from '../errors/errors';
import { historyRepository } from '../history/store';
import type { RegistryClient } from '../registry/client';
import { runCleanup, type CleanupResult } from './cleanup';
import { formatPlan, planJson } from './format';
import { collectLocalRegistry, gcAdvice, registryKind, serveScriptControl, type GarbageCollector, type GcReport, type LocalRegistryControl } from './gc';
import { DEFAULT_JOURNAL_DIR, newestJournal } from './journal';
import { collectProtections, composeImages, pushRecords } from './protect';
import { restoreJournal, type RestoreResult } from './restore';
import { selectRepositories } from './snapshot';
import { registryStorage, type RegistryStorage } from './storage';
import type { ApplyHooks } from './apply';

/**
 * The upkeep commands behind both the Nx executors and `auren-registry`: normalise once, plan,
 * run. Output goes through `out` (plan, JSON) and `log` (progress).
 */

/**
 * The cleanup options, shared by nx.json, `nx run registry:cleanup` and `auren-registry cleanup`.
 * Declared here, once: the cleanup executor's schema.d.ts re-exports this type, and a workspace
 * test checks that it names exactly the properties of that executor's schema.json.
 */
export interface CleanupOptions {
  /** Delete what the plan says, after saving an undo journal; NX_DRY_RUN still wins. */
  apply?: boolean;
  /** Repositories to clean (a list, or names separated by commas); default: every one under the namespace. */
  repositories?: string[] | string;
  /** Print the plan and outcomes as JSON on stdout (progress goes to stderr). */
  json?: boolean;
  /** Folder of undo journals, relative to the workspace root. */
  journalDir?: string;
  /** Registry requests (reads and deletions) in flight at once, 1 to 64. */
  concurrency?: number;
  /** Production compose file; every image it refers to is kept. */
  composeFile?: string;
  /** How deletions reach a distribution registry: its storage folder, DELETE requests, or the storage when known. */
  deleteVia?: 'auto' | 'api' | 'storage';
  /** Storage root of a self-hosted distribution registry on this machine. */
  storageDir?: string;
}

/** The restore options (the restore executor's and `auren-registry restore`'s); its schema.d.ts re-exports this type. */
export interface RestoreOptions {
  /** Journal file to restore from; default: the newest in journalDir. */
  journal?: string;
  /** Folder searched for the newest journal when none is given. */
  journalDir?: string;
  /** Registry requests in flight at once. */
  concurrency?: number;
  /** Print the outcome of every manifest and tag as JSON. */
  json?: boolean;
}

export interface NormalizedCleanupOptions {
  apply: boolean;
  /** --apply was given but NX_DRY_RUN wins. */
  applyBlockedByDryRun: boolean;
  repositories: string[];
  json: boolean;
  journalDir: string;
  concurrency: number;
  composeFile: string;
  deleteVia: 'auto' | 'api' | 'storage';
  storageDir: string | undefined;
}

export interface Io {
  root: string;
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  log: (line: string) => void;
}

export function normalizeCleanupOptions(options: CleanupOptions, root: string, env: NodeJS.ProcessEnv): NormalizedCleanupOptions {
  const repositories = splitList(options.repositories);
  // --apply is a request; NX_DRY_RUN is a safety switch and wins over it.
  const dryRunSet = isDryRun({}, env);
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw inputError(`concurrency must be an integer from 1 to 64, got ${concurrency}`);
  }
  const journalDir = options.journalDir ?? DEFAULT_JOURNAL_DIR;
  const deleteVia = options.deleteVia ?? 'auto';
  if (!['auto', 'api', 'storage'].includes(deleteVia)) throw inputError(`deleteVia must be auto, api or storage, got "${deleteVia}"`);
  return {
    apply: options.apply === true && !dryRunSet,
    applyBlockedByDryRun: options.apply === true && dryRunSet,
    repositories,
    json: options.json === true,
    journalDir: isAbsolute(journalDir) ? journalDir : join(root, journalDir),
    concurrency,
    composeFile: options.composeFile ?? 'docker-compose.prod.yml',
    deleteVia,
    storageDir: options.storageDir === undefined ? undefined : isAbsolute(options.storageDir) ? options.storageDir : join(root, options.storageDir),
  };
}

/** The embedded registry's storage, when the configured registry is it. */
export function localRegistryStorage(config: AurenConfig, root: string, env: NodeJS.ProcessEnv): RegistryStorage | undefined {
  const embedded = embeddedRegistry(root, env);
  return config.registry === embedded.address && existsSync(embedded.dataDir) ? registryStorage(embedded.dataDir) : undefined;
}

export async function cleanRegistry(
  client: RegistryClient,
  config: AurenConfig,
  options: NormalizedCleanupOptions,
  io: Io,
  extra: { storage?: RegistryStorage; hooks?: ApplyHooks; now?: Date } = {},
): Promise<CleanupResult> {
  if (options.applyBlockedByDryRun) io.log('NX_DRY_RUN is set: planning only, nothing will be deleted.');
  const repositories = await selectRepositories(client, config.namespace, options.repositories, config.historyRepository);
  const lister = extra.storage ?? (options.storageDir ? registryStorage(options.storageDir) : localRegistryStorage(config, io.root, io.env));
  if (options.deleteVia === 'storage' && !lister) {
    throw inputError(
      `no storage folder for ${client.registry}: deleteVia "storage" needs the embedded registry or --storage-dir`,
      'Pass the registry\'s storage.filesystem.rootdirectory with --storage-dir, or use --delete-via api.',
    );
  }
  const storage = options.deleteVia === 'api' ? undefined : lister;
  if (options.apply && storage) io.log(`${client.registry}: deleting in its storage folder ${storage.root} (the links a DELETE removes)`);
  const needsUntagged = repositories.some((r) => retentionFor(config, r).deleteUntagged);
  if (needsUntagged && !lister) {
    io.log(`${client.registry} cannot list untagged manifests; only the platforms of deleted indexes are removed as untagged.`);
  }
  const protections = collectProtections({
    registry: client.registry,
    compose: composeImages(io.root, options.composeFile, io.env),
    records: pushRecords(io.root),
    composeFile: options.composeFile,
  });
  const result = await runCleanup(client, {
    repositories,
    policy: (repository) => retentionFor(config, repository),
    protections,
    apply: options.apply,
    concurrency: options.concurrency,
    journalDir: options.journalDir,
    history: historyRepository(config.namespace, config.historyRepository),
    now: extra.now ?? new Date(),
    lister,
    storage,
    hooks: extra.hooks,
    log: options.json ? undefined : io.log,
  });
  io.out(options.json ? planJson(result) : formatPlan(result));
  return result;
}

export async function restoreRegistry(client: RegistryClient, options: RestoreOptions, io: Io): Promise<RestoreResult> {
  const dir = options.journalDir ? (isAbsolute(options.journalDir) ? options.journalDir : join(io.root, options.journalDir)) : join(io.root, DEFAULT_JOURNAL_DIR);
  const path = options.journal ? (isAbsolute(options.journal) ? options.journal : join(io.root, options.journal)) : newestJournal(dir);
  if (!path) throw inputError(`no cleanup journal in ${dir}`, 'Pass --journal <file>; journals are written by `nx run registry:cleanup --apply`.');
  io.log(`restoring from ${path}`);
  const result = await restoreJournal(client, path, { concurrency: options.concurrency ?? 8, log: options.json ? undefined : io.log });
  const count = (o: string) => result.items.filter((i) => i.outcome === o).length;
  io.out(
    options.json
      ? JSON.stringify(result, null, 2)
      : `restored ${count('restored')}, already present ${count('present')}, tag taken by a newer image ${count('tag-taken')}, blobs already collected ${count('blobs-gone')}`,
  );
  return result;
}

export async function collectGarbage(
  client: RegistryClient,
  options: { dryRun: boolean; json?: boolean },
  io: Io,
  extra: { control?: LocalRegistryControl; collectors?: Partial<Record<string, GarbageCollector>> } = {},
): Promise<GcReport> {
  const kind = registryKind(client.registry);
  let report: GcReport;
  const provider = extra.collectors?.[kind];
  if (provider) report = await provider.garbageCollect({ dryRun: options.dryRun, log: io.log });
  else if (kind === 'local') {
    const control = extra.control ?? serveScriptControl({ workspaceRoot: io.root, env: io.env });
    report = await collectLocalRegistry({ client, control, dryRun: options.dryRun, log: io.log });
  } else report = gcAdvice(client.registry, options.dryRun);
  io.out(options.json ? JSON.stringify(report, null, 2) : report.message);
  return report;
}
