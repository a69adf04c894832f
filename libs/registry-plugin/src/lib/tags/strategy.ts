import semver from 'semver';
import { AurenError } from '../errors/errors';
import type { AurenConfig } from '../config/options';
import type { GitContext } from '../git/context';
import { MAX_TAG_LENGTH, isValidTag } from './grammar';

/**
 * A branch name as a tag fragment: lower-cased; every run of characters outside `[a-z0-9.]`
 * (including `_`, `/` and `-` itself) becomes one `-`; no leading or trailing `-` or `.`; at most
 * `maxLength` characters. `feature/Login_Page` → `feature-login-page`. May return '' for a name
 * with no usable character (e.g. only non-ASCII); `planTags` rejects that.
 */
export function sanitizeBranch(branch: string, maxLength: number = MAX_TAG_LENGTH): string {
  const trim = (s: string) => s.replace(/^[-.]+|[-.]+$/g, '');
  return trim(trim(branch.toLowerCase().replace(/[^a-z0-9.]+/g, '-')).slice(0, Math.max(0, maxLength)));
}

/** `YYYYMMDD-HHMM` in UTC. */
export function formatDateTag(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new AurenError('input', 'cannot make a date tag from an invalid date');
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `-${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}`
  );
}

export type TagPlanKind = 'release' | 'develop' | 'branch' | 'pull-request';

export interface TagPlan {
  kind: TagPlanKind;
  /** Every tag valid per the OCI grammar, no duplicates, `latest` last when present. */
  tags: string[];
  push: boolean;
  reason: string;
}

export interface PlanTagsInput {
  /** The version being released (a `VersionDecision.next`); undefined when the app has no new version. */
  version?: string;
  git: GitContext;
  strategy: AurenConfig['tags'];
}

/**
 * Room for the branch fragment. The longest tag around it is `pr-<branch>-<sha7>`; one limit for
 * every shape keeps the fragment identical across a branch's tags (retention matches on it).
 */
const BRANCH_ROOM = MAX_TAG_LENGTH - 'pr-'.length - '-0123456'.length;

/**
 * The image tags for one build. Everything comes from the commit (sha, committer date) and the
 * version, so re-running the same commit plans the same tags.
 *
 * - pull request (checked first: a PR from a fork's `main` is not a release):
 *   `pr-<branch>-<sha7>` and `pr-<branch>`; pushed only with `pushPullRequests`.
 *   The `pr-` prefix keeps PR builds (whose sha is GitHub's merge commit) apart from branch builds.
 * - main branch: `v<version>`, for stable versions the optional `<major>.<minor>` / `<major>`
 *   aliases, `<branch>-<sha7>`, the date `YYYYMMDD-HHMM` and `latest` last. Prereleases and builds
 *   without a new version never move `latest` or the aliases.
 * - develop branch: `dev`, `<branch>-<sha7>`.
 * - any other branch: `dev-<branch>`, `<branch>-<sha7>`.
 */
export function planTags(input: PlanTagsInput): TagPlan {
  const { version, git, strategy } = input;
  if (version !== undefined && semver.valid(version) !== version) {
    throw new AurenError('input', `version "${version}" is not a plain semver version`, 'Pass a version such as 1.2.3 or 1.3.0-rc.1 (no build metadata, no "v").');
  }
  const slug = sanitizeBranch(git.branch, BRANCH_ROOM);
  if (!slug) {
    throw new AurenError(
      'input',
      `branch "${git.branch}" has no character usable in an image tag`,
      'Set AUREN_BRANCH to an ASCII name for this build, e.g. AUREN_BRANCH=feature-x.',
    );
  }
  const shaTag = `${slug}-${git.sha7}`;
  let plan: TagPlan;
  if (git.isPullRequest) {
    plan = {
      kind: 'pull-request',
      tags: [`pr-${shaTag}`, `pr-${slug}`],
      push: strategy.pushPullRequests,
      reason: strategy.pushPullRequests
        ? `pull request from ${git.branch}: pushed because tags.pushPullRequests is set`
        : `pull request from ${git.branch}: built and scanned, not pushed (set tags.pushPullRequests to push)`,
    };
  } else if (strategy.mainBranches.includes(git.branch)) {
    const tags: string[] = [];
    let reason: string;
    const stable = version !== undefined && semver.prerelease(version) === null;
    if (version === undefined) {
      reason = `${git.branch} build without a new version: commit and date tags only, latest unchanged`;
    } else if (!stable) {
      tags.push(`v${version}`);
      reason = `prerelease ${version} on ${git.branch}: latest and aliases unchanged`;
    } else {
      tags.push(`v${version}`);
      if (strategy.aliases) tags.push(`${semver.major(version)}.${semver.minor(version)}`, `${semver.major(version)}`);
      reason = `release ${version} on ${git.branch}${strategy.aliases ? ' with major/minor aliases' : ''}, moves latest`;
    }
    tags.push(shaTag, formatDateTag(git.commitDate));
    if (stable) tags.push('latest');
    plan = { kind: 'release', tags, push: true, reason };
  } else if (strategy.developBranches.includes(git.branch)) {
    plan = { kind: 'develop', tags: ['dev', shaTag], push: true, reason: `development build of ${git.branch}` };
  } else {
    plan = { kind: 'branch', tags: [`dev-${slug}`, shaTag], push: true, reason: `branch build of ${git.branch}` };
  }
  plan.tags = [...new Set(plan.tags)];
  const invalid = plan.tags.filter((t) => !isValidTag(t));
  if (invalid.length > 0) {
    throw new AurenError('input', `planned image tags are invalid: ${invalid.join(', ')}`, 'A tag is 1–128 characters from [A-Za-z0-9_.-] and must not start with "." or "-".');
  }
  return plan;
}
