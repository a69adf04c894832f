import { join } from 'node:path';
import { pushHistoryReader } from '../history/push-times';
import type { RegistryClient } from '../registry/client';
import { applyPlan, type ApplyHooks, type DeletionOutcome } from './apply';
import { findUnfinishedJournal, JOURNAL_LOCK, journalFileName, JournalWriter } from './journal';
import { lockAcquire } from './lock';
import { AurenError } from '../errors/errors';
import { mapLimit } from '../registry/concurrency';
import { planRepository, type Protection, type RepositoryPlan, type RetentionPolicy } from './policy';
import { readRepository, type LiveRepository } from './snapshot';
import { followSubjects, probeSubjects } from './attached';
import type { ManifestLister, RegistryStorage } from './storage';

/** Plan, then (only with `apply`) act: the whole cleanup over a set of repositories. */

export interface CleanupInput {
  repositories: string[];
  /** One policy for all, or the policy of each repository (per-app overrides). */
  policy: RetentionPolicy | ((repository: string) => RetentionPolicy);
  protections: Map<string, Protection[]>;
  apply: boolean;
  concurrency: number;
  /** Absolute folder of undo journals. */
  journalDir: string;
  /**
   * Repository of the push history (`<namespace>/auren-history`): images are aged by their last
   * recorded push. Without it, an image with only development or branch tags and no date tag has
   * no known age and is kept.
   */
  history?: string;
  now: Date;
  /** Lists untagged manifests (defaults to `storage`). */
  lister?: ManifestLister;
  /** The registry's storage folder: read tags and delete through it instead of the API. */
  storage?: RegistryStorage;
  hooks?: ApplyHooks;
  log?: (line: string) => void;
}

export interface CleanupSummary {
  repositories: number;
  tagsKept: number;
  tagsDeleted: number;
  imagesKept: number;
  imagesDeleted: number;
}

export interface CleanupResult {
  registry: string;
  applied: boolean;
  plans: RepositoryPlan[];
  summary: CleanupSummary;
  /** Set when applied and something was planned for deletion. */
  journal?: string;
  resumedJournal?: boolean;
  outcomes: DeletionOutcome[];
}

export function summarize(plans: readonly RepositoryPlan[]): CleanupSummary {
  const count = <T extends { action: string }>(list: T[], action: string) => list.filter((x) => x.action === action).length;
  return {
    repositories: plans.length,
    tagsKept: plans.reduce((n, p) => n + count(p.tags, 'keep'), 0),
    tagsDeleted: plans.reduce((n, p) => n + count(p.tags, 'delete'), 0),
    imagesKept: plans.reduce((n, p) => n + count(p.images, 'keep'), 0),
    imagesDeleted: plans.reduce((n, p) => n + count(p.images, 'delete'), 0),
  };
}

/**
 * With `apply`, the whole run holds the lock of its journal folder (lock.ts), so a second cleanup
 * or a restore using that folder stops at once instead of writing into this run's journal.
 */
export async function runCleanup(client: RegistryClient, input: CleanupInput): Promise<CleanupResult> {
  if (!input.apply) return runLocked(client, input);
  const lock = lockAcquire(join(input.journalDir, JOURNAL_LOCK), 'cleanup', input.log);
  try {
    return await runLocked(client, input);
  } finally {
    lock.release();
  }
}

async function runLocked(client: RegistryClient, input: CleanupInput): Promise<CleanupResult> {
  const storage = input.storage;
  if (!storage) return cleanupWith(client, input);
  if (!input.apply) {
    const pending = storage.pendingRecovery();
    if (pending) input.log?.(`${pending} tag(s) were set aside by an interrupted cleanup; --apply puts them back first. This plan does not show them.`);
    return cleanupWith(client, input);
  }
  await storageDeletesAllowed(client, input.repositories[0] ?? 'auren/probe');
  // Recover before reading: the plan must see the tags an interrupted run set aside.
  await storage.open(input.log);
  try {
    return await cleanupWith(client, input);
  } finally {
    await storage.close();
  }
}

/**
 * Deleting in the storage folder goes around the registry, so ask it first whether it would
 * delete: a DELETE of a digest nobody has answers 404 when deletes are on, and 405 when they are
 * disabled (storage.delete) or the registry is read-only for maintenance (garbage collection).
 */
async function storageDeletesAllowed(client: RegistryClient, repository: string): Promise<void> {
  const nobody = `sha256:${'0'.repeat(64)}`;
  if ((await client.manifestDelete(repository, nobody)) === 'unsupported') {
    throw new AurenError(
      'registry',
      `registry ${client.registry} does not accept deletes now (deletes disabled, or read-only during garbage collection); nothing was deleted`,
      'Wait for garbage collection to finish, or enable deletes (storage.delete.enabled: true), then run cleanup again.',
    );
  }
}

async function cleanupWith(client: RegistryClient, input: CleanupInput): Promise<CleanupResult> {
  const live: LiveRepository[] = [];
  const plans: RepositoryPlan[] = [];
  const pushTimes = input.history ? pushHistoryReader(client, input.history, { concurrency: input.concurrency }) : undefined;
  // Read every repository before deleting anything: if one tag list cannot be read completely the
  // run stops here, with nothing changed.
  for (const repository of input.repositories) {
    const repo = await readRepository(client, repository, { concurrency: input.concurrency, lister: input.lister, storage: input.storage, pushTimes });
    live.push(repo);
    const policy = typeof input.policy === 'function' ? input.policy(repository) : input.policy;
    const planned = planRepository(repo.snapshot, policy, input.now, input.protections.get(repository) ?? []);
    // SBOMs, signatures and their fallback index go and stay with their subject.
    plans.push(followSubjects(repo.snapshot, planned, await probeSubjects(client, repo.snapshot, input.concurrency)));
  }
  const result: CleanupResult = { registry: client.registry, applied: input.apply, plans, summary: summarize(plans), outcomes: [] };
  if (!input.apply || plans.every((p) => p.deletions.length === 0)) return result;

  const unfinished = findUnfinishedJournal(input.journalDir, client.registry);
  const path = unfinished ?? join(input.journalDir, journalFileName(input.now));
  const journal = new JournalWriter(path, client.registry, input.now);
  result.journal = path;
  result.resumedJournal = unfinished !== undefined;
  if (unfinished) await settleInterrupted(client, plans, journal, input.concurrency);
  for (let i = 0; i < plans.length; i++) {
    result.outcomes.push(...(await applyPlan(client, plans[i], live[i], { concurrency: input.concurrency, journal, storage: input.storage, hooks: input.hooks, log: input.log })));
  }
  journal.finish(new Date());
  return result;
}

/**
 * A run killed between a deletion and its progress line leaves the journal silent about that
 * image. Before resuming, settle every such entry the new plan no longer lists: gone from the
 * registry means the interrupted run deleted it; still there means the new plan keeps it.
 */
async function settleInterrupted(client: RegistryClient, plans: readonly RepositoryPlan[], journal: JournalWriter, concurrency: number): Promise<void> {
  const planned = new Set(plans.flatMap((p) => p.deletions.map((d) => `${p.repository}@${d.digest}`)));
  const silent = journal.unrecorded().filter((e) => !planned.has(`${e.repository}@${e.digest}`));
  await mapLimit(silent, concurrency, async (entry) => {
    const gone = (await client.manifestHead(entry.repository, entry.digest)) === 'not-found';
    journal.record({
      repository: entry.repository,
      digest: entry.digest,
      state: gone ? 'deleted' : 'skipped',
      reason: gone ? 'deleted by the interrupted run' : 'kept by the plan of the resumed run',
    });
  });
}
