import type { RegistryClient } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { subjectOfAttachedTag, type Digest } from '../registry/digest';
import type { ImageDecision, RepositoryPlan, RepositorySnapshot, TagDecision } from './policy';

/**
 * Retention and attached artifacts. An image's SBOM and signature live in artifacts whose
 * `subject` is the image, listed by the referrers fallback index tagged `sha256-<hex>` (cosign's
 * legacy `sha256-<hex>.sig|.att|.sbom` tags work the same way). They belong to their subject:
 * kept exactly as long as it is, deleted with it, and deleted when the subject is already gone
 * (an orphan, which the plan reports).
 *
 * The retention planner would otherwise see the fallback tag as an unmanaged tag (kept forever)
 * and the artifacts as children of a kept index, so nothing attached would ever go.
 */

export type SubjectState = 'kept' | 'deleted' | 'gone';

/**
 * Subjects the snapshot does not hold — with the API, untagged manifests cannot be listed — are
 * asked about with a HEAD: only a subject the registry does not have makes an orphan.
 */
export async function probeSubjects(client: RegistryClient, snapshot: RepositorySnapshot, concurrency: number): Promise<Set<string>> {
  const unknown = new Set<string>();
  for (const { tag } of snapshot.tags) {
    const subject = subjectOfAttachedTag(tag);
    if (subject && !snapshot.manifests[subject]) unknown.add(subject);
  }
  const present = new Set<string>();
  await mapLimit([...unknown], concurrency, async (digest) => {
    if ((await client.manifestHead(snapshot.repository, digest)) !== 'not-found') present.add(digest);
  });
  return present;
}

/**
 * Rewrites a plan so that every referrer tag, its index and the artifacts the index lists follow
 * the subject. `present` holds subjects the snapshot does not list but the registry has.
 */
export function followSubjects(snapshot: RepositorySnapshot, plan: RepositoryPlan, present: ReadonlySet<string>): RepositoryPlan {
  const images = new Map(plan.images.map((i) => [i.digest, { ...i }]));
  const tags = new Map(plan.tags.map((t) => [t.tag, { ...t }]));
  const referrerTags = plan.tags.map((t) => ({ t, subject: subjectOfAttachedTag(t.tag) })).filter((x): x is { t: TagDecision; subject: Digest } => !!x.subject);
  if (!referrerTags.length) return plan;
  const referrerDigests = new Set(referrerTags.map((x) => x.t.digest));

  const stateOf = (subject: string): SubjectState => {
    const decision = images.get(subject);
    // A subject that is itself attached (a signature of an SBOM) is decided by its own subject
    // first; the loop below runs until nothing changes.
    if (decision) return decision.action === 'keep' ? 'kept' : 'deleted';
    return present.has(subject) ? 'kept' : 'gone';
  };

  let changed = true;
  for (let round = 0; changed && round < 8; round++) {
    changed = false;
    for (const { t, subject } of referrerTags) {
      const state = stateOf(subject);
      const short = subject.slice(0, 19);
      const verdict: Pick<ImageDecision, 'action' | 'rule' | 'detail'> =
        state === 'kept'
          ? { action: 'keep', rule: 'attached-to-kept', detail: `artifacts of ${short}, which is kept` }
          : state === 'deleted'
            ? { action: 'delete', rule: 'attached-to-deleted', detail: `artifacts of ${short}, which is deleted` }
            : { action: 'delete', rule: 'orphaned-artifact', detail: `artifacts of ${short}, which is no longer in the registry` };
      const tag = tags.get(t.tag)!;
      if (tag.action !== verdict.action || tag.rule !== verdict.rule) changed = true;
      Object.assign(tag, verdict);
      const index = images.get(t.digest);
      if (index) Object.assign(index, verdict);
      // The artifacts the fallback index lists go (or stay) with it, unless another referrer
      // index or a tag of their own keeps them.
      for (const child of snapshot.manifests[t.digest]?.children ?? []) {
        const artifact = images.get(child);
        if (!artifact || artifact.tags.length || referrerDigests.has(child)) continue;
        const otherKeeper = referrerTags.some((o) => o.t.digest !== t.digest && snapshot.manifests[o.t.digest]?.children.includes(child) && tags.get(o.t.tag)!.action === 'keep');
        const next = verdict.action === 'delete' && otherKeeper ? { action: 'keep' as const, rule: 'attached-to-kept' as const, detail: 'also listed for a kept subject' } : verdict;
        if (artifact.action !== next.action || artifact.rule !== next.rule) changed = true;
        Object.assign(artifact, { ...next, detail: `${next.detail} (attached artifact)` });
      }
    }
  }

  const imageList = [...images.values()].sort((a, b) => a.digest.localeCompare(b.digest));
  const isIndex = (d: ImageDecision) => (snapshot.manifests[d.digest]?.children.length ?? 0) > 0;
  const keepFirst = { keep: 0, delete: 1 } as const;
  return {
    repository: plan.repository,
    tags: [...tags.values()].sort((a, b) => keepFirst[a.action] - keepFirst[b.action] || a.tag.localeCompare(b.tag)),
    images: imageList,
    deletions: imageList
      .filter((d) => d.action === 'delete')
      .sort((a, b) => Number(isIndex(b)) - Number(isIndex(a)) || a.digest.localeCompare(b.digest)),
  };
}
