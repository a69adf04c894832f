import { join } from 'node:path';
import type { RegistryClient } from '../registry/client';
import { applyPlan, type ApplyHooks, type DeletionOutcome } from './apply';
import { findUnfinishedJournal, journalFileName, JournalWriter } from './journal';
import { planRepository, type Protection, type RepositoryPlan, type RetentionPolicy } from './policy';
import { readRepository, type LiveRepository, type ManifestLister } from './snapshot';

/** Plan, then (only with `apply`) act: the whole cleanup over a set of repositories. */

export interface CleanupInput {
  repositories: string[];
  policy: RetentionPolicy;
  protections: Map<string, Protection[]>;
  apply: boolean;
  concurrency: number;
  /** Absolute folder of undo journals. */
  journalDir: string;
  now: Date;
  lister?: ManifestLister;
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

export async function runCleanup(client: RegistryClient, input: CleanupInput): Promise<CleanupResult> {
  const live: LiveRepository[] = [];
  const plans: RepositoryPlan[] = [];
  // Read every repository before deleting anything: if one tag list cannot be read completely the
  // run stops here, with nothing changed.
  for (const repository of input.repositories) {
    const repo = await readRepository(client, repository, { concurrency: input.concurrency, lister: input.lister });
    live.push(repo);
    plans.push(planRepository(repo.snapshot, input.policy, input.now, input.protections.get(repository) ?? []));
  }
  const result: CleanupResult = { registry: client.registry, applied: input.apply, plans, summary: summarize(plans), outcomes: [] };
  if (!input.apply || plans.every((p) => p.deletions.length === 0)) return result;

  const unfinished = findUnfinishedJournal(input.journalDir, client.registry);
  const path = unfinished ?? join(input.journalDir, journalFileName(input.now));
  const journal = new JournalWriter(path, client.registry, input.now);
  result.journal = path;
  result.resumedJournal = unfinished !== undefined;
  for (let i = 0; i < plans.length; i++) {
    result.outcomes.push(...(await applyPlan(client, plans[i], live[i], { concurrency: input.concurrency, journal, hooks: input.hooks, log: input.log })));
  }
  journal.finish(new Date());
  return result;
}
