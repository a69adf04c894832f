import semver from 'semver';
import { AurenError } from '../errors/errors';
import { assertRepository, isShallowRepository } from '../git/git';
import { commitsSince, type Commit } from '../git/log';
import { latestVersionTag } from '../git/tags';
import { bumpFor, commitEffect, type CommitEffect } from './conventional';

export type VersionBump = 'major' | 'minor' | 'patch' | 'initial' | 'none';

export interface VersionDecision {
  project: string;
  /** Version of the newest `<project>@<version>` tag; undefined before the first release. */
  current?: string;
  /** Version to release; undefined when nothing touching the project changed since `current`. */
  next?: string;
  bump: VersionBump;
  /** The project has a version tag. */
  released: boolean;
  /** Touching commits since the tag (all touching commits for a first release), newest first. */
  commits: Array<{ sha7: string; subject: string; effect: CommitEffect }>;
  reason: string;
}

export interface DecideVersionInput {
  cwd: string;
  project: string;
  /** Git pathspecs (relative to `cwd`) of the project and everything it depends on. */
  paths: readonly string[];
  initialVersion: string;
}

/**
 * The bump is the commit's effect on every version, 0.x included: the team's convention is that
 * a `feat` is a new minor and a breaking change a new major, whatever the current major is.
 */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function summarize(commits: Commit[]): VersionDecision['commits'] {
  return commits.map((c) => ({ sha7: c.sha.slice(0, 7), subject: c.subject, effect: commitEffect(c) }));
}

export async function decideVersion(input: DecideVersionInput): Promise<VersionDecision> {
  const { cwd, project, paths, initialVersion } = input;
  if (semver.valid(initialVersion) !== initialVersion) {
    throw new AurenError('config', `tags.initialVersion "${initialVersion}" is not a valid semver version`, 'Use a version such as 0.1.0 or 1.0.0.');
  }
  await assertRepository(cwd);
  if (await isShallowRepository(cwd)) {
    throw new AurenError(
      'git',
      `${cwd} is a shallow clone: versions need the full history and the version tags`,
      'In GitHub Actions use actions/checkout with `fetch-depth: 0`; elsewhere run `git fetch --unshallow --tags`.',
    );
  }
  const latest = await latestVersionTag(cwd, project);
  const commits = await commitsSince(cwd, latest ? `refs/tags/${latest.tag}` : undefined, paths);
  const listed = summarize(commits);

  if (!latest) {
    return {
      project,
      next: initialVersion,
      bump: 'initial',
      released: false,
      commits: listed,
      reason: `${project} has no ${project}@<version> tag yet: first release at ${initialVersion} (tags.initialVersion)`,
    };
  }
  const effect = bumpFor(commits);
  if (effect === 'none') {
    return {
      project,
      current: latest.version,
      bump: 'none',
      released: true,
      commits: listed,
      reason: `no commit since ${latest.tag} touches ${paths.join(', ')}: ${project} stays at ${latest.version}`,
    };
  }
  const bump = effect;
  const next = semver.inc(latest.version, bump);
  if (!next) throw new AurenError('internal', `semver could not increment ${latest.version} by ${bump}`);
  const why = listed.find((c) => c.effect === effect);
  return {
    project,
    current: latest.version,
    next,
    bump,
    released: true,
    commits: listed,
    reason:
      `${plural(commits.length, 'commit')} since ${latest.tag} touch ${project}; strongest is ${effect}` +
      (why ? ` (${why.sha7} "${why.subject}")` : ' (merge commits only)') +
      `: ${latest.version} → ${next}`,
  };
}
