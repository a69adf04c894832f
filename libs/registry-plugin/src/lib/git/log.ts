import { AurenError } from '../errors/errors';
import { assertRepository, git, resolveCommit } from './git';

export interface Commit {
  sha: string;
  /** First paragraph of the message, lines joined (git's `%s`). */
  subject: string;
  /** The rest of the message, footers included (git's `%b`). */
  body: string;
  /** Real parents (more than one for a merge commit). */
  parents: string[];
}

const FIELDS = 4;

/**
 * Commits reachable from HEAD and not from `fromRef` that change any of `paths` (git pathspecs
 * relative to `cwd`), newest first in topological order (stable even when dates are equal).
 *
 * Merges use git's default history simplification (`git help log`, "History Simplification"):
 * a merge whose result equals one parent on `paths` is skipped and only that parent is followed,
 * so a `--no-ff` merge of a feature branch yields the feature branch's own commits, not the merge.
 * A merge is listed only when it differs from every parent on `paths` (both sides changed them, or
 * the merge itself resolved a conflict); callers decide what its message is worth (see `bumpFor`).
 */
export async function commitsSince(cwd: string, fromRef: string | undefined, paths: readonly string[]): Promise<Commit[]> {
  await assertRepository(cwd);
  if (paths.length === 0) {
    throw new AurenError('input', 'commitsSince needs at least one path', 'Pass the project root and the roots of what it depends on.');
  }
  const revisions = ['HEAD'];
  if (fromRef !== undefined) {
    const from = await resolveCommit(cwd, fromRef);
    if (!from) {
      throw new AurenError('git', `"${fromRef}" does not name a commit in ${cwd}`, 'Fetch tags (`git fetch --tags`) or check the tag name.');
    }
    revisions.push(`^${from}`);
  }
  const result = await git(cwd, [
    'log',
    '-z',
    '--topo-order',
    '--no-color',
    '--encoding=UTF-8',
    '--format=%H%x00%P%x00%s%x00%b',
    '--end-of-options',
    ...revisions,
    '--',
    ...paths,
  ]);
  const parts = result.stdout.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  const commits: Commit[] = [];
  for (let i = 0; i + FIELDS <= parts.length; i += FIELDS) {
    commits.push({
      sha: parts[i],
      parents: parts[i + 1].split(' ').filter(Boolean),
      subject: parts[i + 2],
      body: parts[i + 3].replace(/\n+$/, ''),
    });
  }
  return commits;
}

export interface SourceCommit {
  sha: string;
  /** Committer date. */
  date: Date;
}

/**
 * The newest commit reachable from HEAD that changes any of `paths`: the commit an image's
 * labels and timestamps describe. HEAD would make every unrelated commit change the image's
 * bytes, so a clean machine could never rebuild a released image to the same digest.
 * Falls back to HEAD when no commit touches the paths (files added but never committed).
 */
export async function lastCommitTouching(cwd: string, paths: readonly string[]): Promise<SourceCommit> {
  await assertRepository(cwd);
  const result = await git(cwd, ['log', '-1', '--no-color', '--format=%H %ct', '--end-of-options', 'HEAD', '--', ...paths]);
  let line = result.stdout.trim();
  if (!line) line = (await git(cwd, ['log', '-1', '--format=%H %ct', 'HEAD'])).stdout.trim();
  const [sha, seconds] = line.split(' ');
  return { sha, date: new Date(Number(seconds) * 1000) };
}
