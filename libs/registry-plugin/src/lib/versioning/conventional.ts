import type { Commit } from '../git/log';

export interface ConventionalCommit {
  /** Lower-cased (`FEAT:` is `feat`); the spec treats types case-insensitively. */
  type: string;
  scope?: string;
  breaking: boolean;
  description: string;
}

/**
 * `type(scope)!: description` — https://www.conventionalcommits.org/en/v1.0.0/#specification.
 * The type is a word (letters, digits, `-`), the scope any text without parentheses, and the
 * colon must be followed by whitespace (`feat:x` is not conventional, as in conventional-changelog).
 */
const HEADER = /^([A-Za-z][A-Za-z0-9-]*)(?:\(([^()\r\n]+)\))?(!)?:\s+(\S.*)$/;
/** git's own revert message: `Revert "<original subject>"`. */
const GIT_REVERT = /^Revert\s+"(.+)"\s*$/;
/**
 * Spec items 12–16: a `BREAKING CHANGE:` / `BREAKING-CHANGE:` footer, upper case. Matched at the
 * start of any body line, as conventional-commits-parser does, because squash merges often put
 * footers mid-body.
 */
const BREAKING_FOOTER = /^BREAKING[ -]CHANGE:\s*\S/m;

export function hasBreakingFooter(body: string): boolean {
  return BREAKING_FOOTER.test(body);
}

export function parseConventionalCommit(subject: string, body = ''): ConventionalCommit | undefined {
  const header = subject.trim();
  const revert = GIT_REVERT.exec(header);
  if (revert) return { type: 'revert', breaking: false, description: revert[1] };
  const match = HEADER.exec(header);
  if (!match) return undefined;
  const [, type, scope, bang, description] = match;
  return {
    type: type.toLowerCase(),
    ...(scope !== undefined ? { scope: scope.trim() } : {}),
    breaking: bang === '!' || hasBreakingFooter(body),
    description: description.trim(),
  };
}

export type CommitEffect = 'major' | 'minor' | 'patch' | 'none';

const RANK: Record<CommitEffect, number> = { none: 0, patch: 1, minor: 2, major: 3 };

export function isMergeCommit(commit: Pick<Commit, 'parents'>): boolean {
  return commit.parents.length > 1;
}

/**
 * What one commit asks for. A commit that touches an app always changes its image, so anything
 * that is not breaking/feat is at least a patch — chore, docs, refactor, revert and
 * non-conventional messages included. A breaking footer counts even under a non-conventional
 * subject (conventional-commits-parser reads notes independently of the header).
 * Merge commits ask for nothing: the commits they bring in are listed on their own (see
 * `commitsSince`), and "Merge branch 'x'" must not add a bump of its own.
 */
export function commitEffect(commit: Pick<Commit, 'subject' | 'body' | 'parents'>): CommitEffect {
  if (isMergeCommit(commit)) return 'none';
  const parsed = parseConventionalCommit(commit.subject, commit.body);
  if (parsed?.breaking || hasBreakingFooter(commit.body)) return 'major';
  if (parsed?.type === 'feat') return 'minor';
  return 'patch';
}

/**
 * The strongest effect among `commits`, before any 0.x adjustment. Touching commits that ask for
 * nothing (only merges — e.g. a conflict resolution that changed the app) still changed the
 * image, so a non-empty list is at least a patch; an empty list is 'none'.
 */
export function bumpFor(commits: ReadonlyArray<Pick<Commit, 'subject' | 'body' | 'parents'>>): CommitEffect {
  let strongest: CommitEffect = 'none';
  for (const commit of commits) {
    const effect = commitEffect(commit);
    if (RANK[effect] > RANK[strongest]) strongest = effect;
  }
  return strongest === 'none' && commits.length > 0 ? 'patch' : strongest;
}
