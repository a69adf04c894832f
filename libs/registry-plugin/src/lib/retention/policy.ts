import semver from 'semver';
import { AGING_KINDS, classifyTag, globToRegExp, matchesAny, parseDateTag, type TagKind } from './tags';

/**
 * The retention planner: a pure function from what a repository holds (tags → digests, and a few
 * facts per manifest) to a decision for every tag and every image, each with the rule that made it.
 *
 * Decisions are per image (digest), as Harbor's tag retention does: distribution can only delete
 * a manifest by digest (DELETE /v2/<name>/manifests/<digest>, which removes every tag on it), so
 * if any tag of an image is kept, the image and all its tags stay. Children of a kept index are
 * kept whatever their own tags say, so a multi-arch image never loses a platform.
 */

export interface RetentionPolicy {
  /** Newest `v<semver>` releases kept (semver order). */
  keepReleases: number;
  /** Globs (`*`, `?`) of tags that are always kept. */
  keepPatterns: string[];
  /** Development and branch tags older than this are deleted. */
  devMaxAgeDays: number;
  /** Delete manifests no tag names (never the children of a kept index). */
  deleteUntagged: boolean;
}

export interface ManifestFacts {
  digest: string;
  mediaType: string;
  /** Manifests an index refers to; [] for an image manifest. */
  children: string[];
  /**
   * When the pipeline last recorded a push of this digest to this repository (the push history,
   * lib/history), ISO 8601: the image's age.
   */
  pushedAt?: string;
  /**
   * The image config's `created` (for an index: the newest of its children's). Shown in the plan,
   * never an age: reproducible builds write 1970-01-01 there (lib/pipeline/build.ts, LAYER_EPOCH),
   * and any other builder may write what it likes.
   */
  configCreated?: string;
}

export interface TagRef {
  tag: string;
  digest: string;
}

export interface RepositorySnapshot {
  repository: string;
  tags: TagRef[];
  /** Facts about the digests the tags name, their children, and the untagged manifests. */
  manifests: Record<string, ManifestFacts>;
  /** Manifests no tag names, when the registry can list them; undefined when it cannot. */
  untagged?: string[];
}

/** A tag or digest something outside the registry depends on (compose file, push record). */
export interface Protection {
  tag?: string;
  digest?: string;
  /** Who depends on it, for the plan: "docker-compose.prod.yml service auren-api". */
  source: string;
}

export type RuleName =
  | 'protected-reference'
  | 'keep-pattern'
  | 'newest-release'
  | 'old-release'
  | 'release-alias'
  | 'recent'
  | 'expired'
  | 'age-unknown'
  | 'unmanaged-tag'
  | 'sibling-kept'
  | 'child-of-kept-index'
  | 'untagged'
  | 'untagged-kept'
  // SBOMs, signatures and their referrers fallback index follow their subject (supply-chain/retention.ts).
  | 'attached-to-kept'
  | 'attached-to-deleted'
  | 'orphaned-artifact';

export type Action = 'keep' | 'delete';

export interface TagDecision {
  tag: string;
  digest: string;
  kind: TagKind;
  action: Action;
  rule: RuleName;
  detail: string;
}

export interface ImageDecision {
  digest: string;
  mediaType: string;
  tags: string[];
  action: Action;
  rule: RuleName;
  detail: string;
}

export interface RepositoryPlan {
  repository: string;
  /** Sorted by tag. */
  tags: TagDecision[];
  /** One per digest (tagged, children, untagged), sorted by digest. */
  images: ImageDecision[];
  /** Images to delete, indexes first (so a half-done run never leaves an index without children). */
  deletions: ImageDecision[];
}

const DAY_MS = 24 * 60 * 60 * 1000;
const KEEP_FIRST: Record<Action, number> = { keep: 0, delete: 1 };

interface Verdict {
  action: Action;
  rule: RuleName;
  detail: string;
}

function ageText(ms: number): string {
  const days = ms / DAY_MS;
  return days >= 1 ? `${Math.floor(days)} d` : `${Math.max(0, Math.floor(ms / 3_600_000))} h`;
}

/** Dates before this are not evidence of anything: the epoch and other zero values of clocks. */
const EARLIEST_TRUSTED = Date.UTC(2000, 0, 1);

type Age = { known: true; time: number; source: string } | { known: false; why: string };

/**
 * When the image last reached the registry, from the only dates that say so: its date tags
 * (written by the tag strategy at push) and the newest push the push history records. The newest
 * of them counts, so a re-push keeps an image whose date tag is old. A date before 2000 is
 * ignored; a date after `now` (a clock ahead of ours, or a forged record) makes the age unknown,
 * since it hints at a push we cannot place. The config's `created` is never used: see ManifestFacts.
 * The commit date in the `org.opencontainers.image.created` label is not used either: an image
 * built today from a project whose last commit is old carries that old date, and would be
 * deleted as soon as it is pushed.
 */
function imageAge(tags: readonly string[], facts: ManifestFacts | undefined, now: Date): Age {
  const candidates = tags.flatMap((t) => {
    const date = parseDateTag(t);
    return date ? [{ time: date.getTime(), source: `date tag ${t}` }] : [];
  });
  const pushed = facts?.pushedAt ? Date.parse(facts.pushedAt) : NaN;
  if (!Number.isNaN(pushed)) candidates.push({ time: pushed, source: `pushed ${facts!.pushedAt} per the push history` });
  const future = candidates.find((c) => c.time > now.getTime());
  if (future) return { known: false, why: `${future.source} is later than now (${now.toISOString()}): a clock ahead of ours, so the age is not known` };
  const trusted = candidates.filter((c) => c.time >= EARLIEST_TRUSTED).sort((a, b) => b.time - a.time);
  if (trusted.length) return { known: true, ...trusted[0] };
  const ignored = candidates.map((c) => `${c.source} is before 2000`);
  const created = facts?.configCreated ? [`config created ${facts.configCreated} is not a push time`] : [];
  return { known: false, why: ['no date tag and no push of it in the push history', ...ignored, ...created].join('; ') };
}

export function planRepository(
  snapshot: RepositorySnapshot,
  policy: RetentionPolicy,
  now: Date,
  protections: readonly Protection[] = [],
): RepositoryPlan {
  const patterns = policy.keepPatterns.map(globToRegExp);
  const maxAgeMs = policy.devMaxAgeDays * DAY_MS;
  const tagsOf = new Map<string, string[]>();
  for (const { tag, digest } of snapshot.tags) tagsOf.set(digest, [...(tagsOf.get(digest) ?? []), tag]);

  const protectedTag = new Map(protections.filter((p) => p.tag).map((p) => [p.tag as string, p.source]));
  const protectedDigest = new Map(protections.filter((p) => p.digest).map((p) => [p.digest as string, p.source]));

  const releases = snapshot.tags
    .filter((t) => classifyTag(t.tag) === 'release')
    .sort((a, b) => semver.rcompare(a.tag.slice(1), b.tag.slice(1)) || a.tag.localeCompare(b.tag));
  const releaseRank = new Map(releases.map((t, i) => [t.tag, i]));

  // 1. Each tag on its own.
  const own = new Map<string, Verdict>();
  for (const { tag, digest } of snapshot.tags) {
    const kind = classifyTag(tag);
    let verdict: Verdict;
    const pattern = matchesAny(tag, patterns);
    if (protectedTag.has(tag)) verdict = { action: 'keep', rule: 'protected-reference', detail: `used by ${protectedTag.get(tag)}` };
    else if (protectedDigest.has(digest)) verdict = { action: 'keep', rule: 'protected-reference', detail: `digest used by ${protectedDigest.get(digest)}` };
    else if (pattern) verdict = { action: 'keep', rule: 'keep-pattern', detail: `matches keepPatterns ${pattern.source}` };
    else if (kind === 'release') {
      const rank = releaseRank.get(tag) as number;
      verdict =
        rank < policy.keepReleases
          ? { action: 'keep', rule: 'newest-release', detail: `release #${rank + 1} of the newest ${policy.keepReleases}` }
          : { action: 'delete', rule: 'old-release', detail: `release #${rank + 1}, beyond the newest ${policy.keepReleases}` };
    } else if (kind === 'alias') verdict = { action: 'keep', rule: 'release-alias', detail: 'moving alias of a release line' };
    else if (AGING_KINDS.includes(kind)) {
      const when = imageAge(tagsOf.get(digest) ?? [], snapshot.manifests[digest], now);
      if (!when.known) verdict = { action: 'keep', rule: 'age-unknown', detail: when.why };
      else {
        const age = now.getTime() - when.time;
        verdict =
          age > maxAgeMs
            ? { action: 'delete', rule: 'expired', detail: `${ageText(age)} old (${when.source}) > ${policy.devMaxAgeDays} d` }
            : { action: 'keep', rule: 'recent', detail: `${ageText(age)} old (${when.source}) ≤ ${policy.devMaxAgeDays} d` };
      }
    } else verdict = { action: 'keep', rule: 'unmanaged-tag', detail: `"${tag}" is not a tag shape retention manages` };
    own.set(tag, verdict);
  }

  // 2. Per image: kept if any tag is kept, or a protection names its digest.
  const kept = new Map<string, Verdict>();
  for (const [digest, tags] of tagsOf) {
    const keeper = tags.find((t) => own.get(t)!.action === 'keep');
    if (keeper) kept.set(digest, { ...own.get(keeper)!, detail: `${keeper}: ${own.get(keeper)!.detail}` });
  }
  for (const [digest, source] of protectedDigest) {
    if (!kept.has(digest) && (tagsOf.has(digest) || snapshot.manifests[digest])) {
      kept.set(digest, { action: 'keep', rule: 'protected-reference', detail: `digest used by ${source}` });
    }
  }
  // 3. Children of kept indexes stay, transitively (an index may hold indexes). Without
  // deleteUntagged, untagged manifests stay too — including the platforms of deleted indexes —
  // and so must their children, even when a child's own tag has expired.
  const untaggedKept: Verdict = { action: 'keep', rule: 'untagged-kept', detail: 'no tag names it; deleteUntagged is off' };
  if (!policy.deleteUntagged) for (const digest of snapshot.untagged ?? []) if (!tagsOf.has(digest) && !kept.has(digest)) kept.set(digest, untaggedKept);
  const queue = [...kept.keys()];
  while (queue.length) {
    while (queue.length) {
      const parent = queue.pop() as string;
      for (const child of snapshot.manifests[parent]?.children ?? []) {
        if (kept.has(child)) continue;
        kept.set(child, { action: 'keep', rule: 'child-of-kept-index', detail: `platform manifest of kept index ${parent.slice(0, 19)}` });
        queue.push(child);
      }
    }
    if (policy.deleteUntagged) break;
    for (const digest of tagsOf.keys()) {
      if (kept.has(digest)) continue;
      for (const child of snapshot.manifests[digest]?.children ?? []) {
        if (tagsOf.has(child) || kept.has(child)) continue;
        kept.set(child, { ...untaggedKept, detail: `child of deleted index ${digest.slice(0, 19)}; deleteUntagged is off` });
        queue.push(child);
      }
    }
  }

  const tagDecisions: TagDecision[] = snapshot.tags.map(({ tag, digest }) => {
    const mine = own.get(tag)!;
    const image = kept.get(digest);
    const base = { tag, digest, kind: classifyTag(tag) };
    if (mine.action === 'keep' || !image) return { ...base, ...mine };
    return {
      ...base,
      action: 'keep',
      rule: image.rule === 'child-of-kept-index' ? 'child-of-kept-index' : 'sibling-kept',
      detail: image.rule === 'child-of-kept-index' ? image.detail : `image kept by ${image.detail} (own rule: ${mine.rule})`,
    };
  });

  // 4. Every digest we know of gets one decision.
  const images = new Map<string, ImageDecision>();
  const mediaType = (digest: string) => snapshot.manifests[digest]?.mediaType ?? '';
  for (const [digest, tags] of tagsOf) {
    const verdict: Verdict = kept.get(digest) ?? {
      action: 'delete',
      rule: own.get(tags[0])!.rule,
      detail: tags.map((t) => `${t}: ${own.get(t)!.rule}`).join(', '),
    };
    images.set(digest, { digest, mediaType: mediaType(digest), tags: [...tags].sort(), ...verdict });
  }
  const untaggedVerdict = (why: string): Verdict =>
    policy.deleteUntagged
      ? { action: 'delete', rule: 'untagged', detail: why }
      : { action: 'keep', rule: 'untagged-kept', detail: `${why}; deleteUntagged is off` };
  const addUntagged = (digest: string, why: string) => {
    if (images.has(digest)) return;
    const verdict = kept.get(digest) ?? untaggedVerdict(why);
    images.set(digest, { digest, mediaType: mediaType(digest), tags: [], ...verdict });
    for (const child of snapshot.manifests[digest]?.children ?? []) addUntagged(child, `child of ${verdict.action === 'delete' ? 'deleted' : 'kept'} index ${digest.slice(0, 19)}`);
  };
  for (const [digest] of tagsOf) for (const child of snapshot.manifests[digest]?.children ?? []) {
    addUntagged(child, `child of ${images.get(digest)!.action === 'delete' ? 'deleted' : 'kept'} index ${digest.slice(0, 19)}`);
  }
  for (const digest of snapshot.untagged ?? []) addUntagged(digest, 'no tag names it');

  const imageList = [...images.values()].sort((a, b) => a.digest.localeCompare(b.digest));
  const isIndex = (d: ImageDecision) => (snapshot.manifests[d.digest]?.children.length ?? 0) > 0;
  const deletions = imageList
    .filter((d) => d.action === 'delete')
    .sort((a, b) => Number(isIndex(b)) - Number(isIndex(a)) || a.digest.localeCompare(b.digest));
  return {
    repository: snapshot.repository,
    tags: tagDecisions.sort((a, b) => KEEP_FIRST[a.action] - KEEP_FIRST[b.action] || a.tag.localeCompare(b.tag)),
    images: imageList,
    deletions,
  };
}

/** Tags a plan deletes (every tag of every deleted image). */
export function deletedTags(plan: RepositoryPlan): string[] {
  return plan.tags.filter((t) => t.action === 'delete').map((t) => t.tag);
}
