import { AurenError } from '../errors/errors';
import { canDeleteTags, type RegistryClient, type TagDeleter } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { walkImage, type ManifestFetch } from '../registry/image-graph';
import type { JournalWriter } from './journal';
import type { ImageDecision, RepositoryPlan } from './policy';
import { tagsResolve, type LiveRepository } from './snapshot';
import type { RegistryStorage } from './storage';

/**
 * Carries out a plan. Safety, in order:
 * 1. Re-list the tags: a tag added or moved since the plan that names a planned digest (or an
 *    index whose children are planned) takes that digest out of the plan.
 * 2. Save every planned manifest to the undo journal (one atomic write) before the first DELETE.
 * 3. Delete indexes before the manifests they hold, level by level, so a killed run never
 *    leaves an index without a platform; a skipped index keeps its children.
 * 4. Just before each DELETE, HEAD every tag of the image; if one now names another digest the
 *    image is skipped.
 * With the registry's storage folder at hand (storage.ts) the same steps read links instead of
 * sending HEADs, step 4 happens atomically per tag, and a last re-read puts back any manifest a
 * tag came to name while the run was deleting it.
 */

export type Outcome = 'deleted' | 'already-gone' | 'skipped';

const UNTAGGED_REASON = 'tags deleted by name; the untagged manifest goes at the next garbage collection (--delete-untagged)';

export interface DeletionOutcome {
  repository: string;
  digest: string;
  tags: string[];
  outcome: Outcome;
  reason?: string;
}

export interface ApplyHooks {
  /** Called after each recorded outcome; throwing stops the run (tests use it to simulate a kill). */
  afterDelete?: (outcome: DeletionOutcome, deletedSoFar: number) => void | Promise<void>;
}

export interface ApplyOptions {
  concurrency: number;
  journal: JournalWriter;
  /** Delete by removing links in the registry's storage (opened by the caller). */
  storage?: RegistryStorage;
  hooks?: ApplyHooks;
  log?: (line: string) => void;
}

async function referencedNow(client: RegistryClient, live: LiveRepository, options: ApplyOptions): Promise<Map<string, string>> {
  const before = new Map(live.snapshot.tags.map((t) => [t.tag, t.digest]));
  const repo = live.snapshot.repository;
  const tags = await tagsResolve(client, repo, options);
  const changed = new Map<string, string>(); // digest → why it is referenced now
  await mapLimit(tags, options.concurrency, async ({ tag, digest: now }) => {
    if (before.get(tag) === now) return;
    const why = before.has(tag) ? `tag ${tag} moved to it after the plan` : `tag ${tag} was added after the plan`;
    // Walk the new target: a fresh index may reuse planned platform manifests. Manifests read
    // for the plan are taken from its saved bytes, only new ones are fetched.
    const fetch: ManifestFetch = async (digest) => {
      const known = live.raw.get(digest);
      return known ? { digest, ...known } : client.manifestGet(repo, digest);
    };
    const graph = await walkImage(fetch, [now]);
    for (const digest of [...graph.nodes.map((n) => n.digest), ...graph.missing]) if (!changed.has(digest)) changed.set(digest, why);
  });
  return changed;
}

export async function applyPlan(client: RegistryClient, plan: RepositoryPlan, live: LiveRepository, options: ApplyOptions): Promise<DeletionOutcome[]> {
  const repo = plan.repository;
  const outcomes: DeletionOutcome[] = [];
  const log = options.log ?? (() => undefined);
  if (!plan.deletions.length) return outcomes;

  const record = async (outcome: DeletionOutcome) => {
    options.journal.record({ repository: repo, digest: outcome.digest, state: outcome.outcome, reason: outcome.reason });
    outcomes.push(outcome);
    log(`${outcome.outcome.padEnd(12)} ${repo}@${outcome.digest.slice(0, 19)} ${outcome.tags.join(', ') || '(untagged)'}${outcome.reason ? ` — ${outcome.reason}` : ''}`);
    await options.hooks?.afterDelete?.(outcome, outcomes.filter((o) => o.outcome === 'deleted').length);
  };

  const changed = await referencedNow(client, live, options);
  const pending = new Map<string, ImageDecision>();
  for (const deletion of plan.deletions) {
    const why = changed.get(deletion.digest);
    if (why) await record({ repository: repo, digest: deletion.digest, tags: deletion.tags, outcome: 'skipped', reason: why });
    else pending.set(deletion.digest, deletion);
  }

  options.journal.save(
    [...pending.values()].map((d) => {
      const raw = live.raw.get(d.digest);
      if (!raw) throw new AurenError('internal', `no saved bytes for ${repo}@${d.digest}; refusing to delete what the journal cannot restore`);
      return { repository: repo, digest: d.digest, mediaType: raw.mediaType, body: raw.body.toString('base64'), tags: d.tags, children: live.snapshot.manifests[d.digest]?.children ?? [] };
    }),
  );

  const skipWithChildren = async (digest: string, reason: string) => {
    for (const child of live.snapshot.manifests[digest]?.children ?? []) {
      const d = pending.get(child);
      if (!d) continue;
      pending.delete(child);
      await record({ repository: repo, digest: child, tags: d.tags, outcome: 'skipped', reason: `its index ${digest.slice(0, 19)} was kept: ${reason}` });
      await skipWithChildren(child, reason);
    }
  };

  const storage = options.storage;
  /**
   * Registries that delete a tag by name (distribution 3, OCI distribution spec 1.1) do it in O(1);
   * a DELETE by digest makes distribution (2.8 and 3) read every tag link of the repository to
   * find the tags to drop, so thousands of deletions cost minutes (bench/cleanup.mjs). Where tag
   * deletion works, the planned image's tags are deleted by name and the manifest, now untagged,
   * goes at the registry's next garbage collection (`registry garbage-collect --delete-untagged`);
   * the journal still holds its bytes for `restore`. Learnt from the first answer: distribution
   * 2.8 refuses a tag DELETE (400/405) and gets DELETE by digest as before.
   */
  let tagDeletes: 'unknown' | 'supported' | 'unsupported' = 'unknown';
  const untaggedByParent = new Set<string>();
  const deleteTags = async (c: RegistryClient & TagDeleter, repository: string, tags: string[]): Promise<'deleted' | 'unsupported'> => {
    for (const [i, tag] of tags.entries()) {
      const result = await c.tagDelete(repository, tag);
      if (result !== 'unsupported') continue;
      if (i > 0) {
        throw new AurenError('registry', `registry ${c.registry} deleted tag ${tags[0]} of ${repository} but refused to delete tag ${tag}`,
          'Run the cleanup again with --deleteVia storage or after checking the registry\'s delete settings; the journal has what was deleted.');
      }
      tagDeletes = 'unsupported';
      return 'unsupported';
    }
    return 'deleted';
  };
  const deleteOne = async (d: ImageDecision) => {
    if (storage) {
      const result = await storage.imageDelete(repo, d.digest, d.tags);
      pending.delete(d.digest);
      if (result.outcome === 'moved') {
        await record({ repository: repo, digest: d.digest, tags: d.tags, outcome: 'skipped', reason: `tag ${result.tag} moved to ${result.digest.slice(0, 19)}` });
        await skipWithChildren(d.digest, `tag ${result.tag} moved`);
      } else await record({ repository: repo, digest: d.digest, tags: d.tags, outcome: result.outcome });
      return;
    }
    for (const tag of d.tags) {
      const head = await client.manifestHead(repo, tag);
      if (head !== 'not-found' && head.digest !== d.digest) {
        pending.delete(d.digest);
        await record({ repository: repo, digest: d.digest, tags: d.tags, outcome: 'skipped', reason: `tag ${tag} moved to ${head.digest.slice(0, 19)}` });
        await skipWithChildren(d.digest, `tag ${tag} moved`);
        return;
      }
    }
    if (tagDeletes !== 'unsupported' && canDeleteTags(client)) {
      if (d.tags.length === 0 && untaggedByParent.has(d.digest)) {
        pending.delete(d.digest);
        await record({ repository: repo, digest: d.digest, tags: d.tags, outcome: 'deleted', reason: UNTAGGED_REASON });
        return;
      }
      if (d.tags.length > 0 && (await deleteTags(client, repo, d.tags)) === 'deleted') {
        tagDeletes = 'supported';
        for (const child of live.snapshot.manifests[d.digest]?.children ?? []) untaggedByParent.add(child);
        pending.delete(d.digest);
        await record({ repository: repo, digest: d.digest, tags: d.tags, outcome: 'deleted', reason: UNTAGGED_REASON });
        return;
      }
    }
    const result = await client.manifestDelete(repo, d.digest);
    if (result === 'unsupported') {
      throw new AurenError(
        'registry',
        `registry ${client.registry} does not allow deleting manifests (${repo}@${d.digest})`,
        'Enable deletes (distribution: storage.delete.enabled: true) or use the provider\'s retention settings.',
      );
    }
    pending.delete(d.digest);
    await record({ repository: repo, digest: d.digest, tags: d.tags, outcome: result === 'deleted' ? 'deleted' : 'already-gone' });
  };

  // Level by level: whatever no other pending deletion holds goes first.
  while (pending.size) {
    const held = new Set([...pending.keys()].flatMap((d) => live.snapshot.manifests[d]?.children ?? []));
    const level = [...pending.values()].filter((d) => !held.has(d.digest));
    if (!level.length) throw new AurenError('internal', `index cycle among the planned deletions of ${repo}`);
    await mapLimit(level, options.concurrency, async (d) => {
      if (pending.has(d.digest)) await deleteOne(d);
    });
  }
  if (storage) await putBackRetagged(client, live, outcomes, storage, record);
  return outcomes;
}

/**
 * A push that tagged a planned digest between the re-list and its deletion would leave a tag
 * naming nothing (a DELETE through the API would have untagged it instead). Re-read once and PUT
 * such manifests back from the bytes the journal saved, children first.
 */
async function putBackRetagged(
  client: RegistryClient,
  live: LiveRepository,
  outcomes: DeletionOutcome[],
  storage: RegistryStorage,
  record: (o: DeletionOutcome) => Promise<void>,
): Promise<void> {
  const repo = live.snapshot.repository;
  const deleted = new Map(outcomes.filter((o) => o.outcome === 'deleted').map((o) => [o.digest, o]));
  const wanted = new Map<string, string>();
  const want = (digest: string, why: string) => {
    if (!deleted.has(digest) || wanted.has(digest)) return;
    wanted.set(digest, why);
    for (const child of live.snapshot.manifests[digest]?.children ?? []) want(child, why);
  };
  for (const { tag, digest } of await storage.tagsRead(repo, { dangling: true })) want(digest, `tag ${tag} came to name it during the run; put back`);
  // Children before the indexes that hold them: a PUT of an index needs its platforms present.
  const order = [...wanted.keys()].sort((a, b) => (live.snapshot.manifests[a]?.children.length ? 1 : 0) - (live.snapshot.manifests[b]?.children.length ? 1 : 0));
  for (const digest of order) {
    const raw = live.raw.get(digest);
    if (!raw) continue;
    await client.manifestPut(repo, digest, raw.body, raw.mediaType);
    const was = deleted.get(digest) as DeletionOutcome;
    const at = outcomes.indexOf(was);
    outcomes.splice(at, 1);
    await record({ ...was, outcome: 'skipped', reason: wanted.get(digest) });
  }
}
