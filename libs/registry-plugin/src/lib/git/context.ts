import { environmentValue } from '../config/precedence';
import { AurenError } from '../errors/errors';
import { assertRepository, git, resolveCommit } from './git';

/** What the tag strategy needs to know about the commit being built. */
export interface GitContext {
  /** Full sha of HEAD. */
  sha: string;
  /** Always exactly 7 characters (not `git rev-parse --short`, whose length varies), so tags are stable. */
  sha7: string;
  /** Branch being built (for pull requests: the head branch). */
  branch: string;
  /** Committer date of HEAD: re-running the same commit yields the same date tag. */
  commitDate: Date;
  isPullRequest: boolean;
  /** HEAD is not on a branch (typical of CI checkouts); the branch then came from the environment. */
  detached: boolean;
}

const PULL_REQUEST_EVENTS = new Set(['pull_request', 'pull_request_target']);

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value.replace(/^refs\/heads\//, '') : undefined;
}

/**
 * The branch named by CI, if any: `AUREN_BRANCH` (explicit override), then for GitHub pull requests
 * `GITHUB_HEAD_REF` (GITHUB_REF_NAME is `<number>/merge` there), then `GITHUB_REF_NAME` unless the
 * workflow runs for a tag push (GITHUB_REF_TYPE=tag), where it names the tag, not a branch.
 */
export function branchFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const explicit = environmentValue(env, 'AUREN_BRANCH')?.replace(/^refs\/heads\//, '');
  if (explicit) return explicit;
  if (PULL_REQUEST_EVENTS.has(env.GITHUB_EVENT_NAME ?? '')) {
    const head = envValue(env, 'GITHUB_HEAD_REF');
    if (head) return head;
  }
  if (env.GITHUB_REF_TYPE !== 'tag') return envValue(env, 'GITHUB_REF_NAME');
  return undefined;
}

export async function readGitContext(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<GitContext> {
  await assertRepository(cwd);
  const sha = await resolveCommit(cwd, 'HEAD');
  if (!sha) {
    throw new AurenError('git', `the git repository at ${cwd} has no commits yet`, 'Commit the workspace first; image tags are derived from HEAD.');
  }
  const date = await git(cwd, ['log', '-1', '--format=%ct', sha]);
  const commitDate = new Date(Number(date.stdout.trim()) * 1000);
  // `symbolic-ref` rather than `rev-parse --abbrev-ref`: the latter prints `heads/main` when a tag
  // is also called `main`, and `HEAD` when detached.
  const symbolic = await git(cwd, ['symbolic-ref', '--quiet', 'HEAD'], [1]);
  const detached = symbolic.exitCode !== 0;
  const branch = branchFromEnv(env) ?? (detached ? undefined : symbolic.stdout.trim().replace(/^refs\/heads\//, ''));
  if (!branch) {
    throw new AurenError(
      'git',
      `HEAD is detached at ${sha.slice(0, 7)} and no branch name was given`,
      'Set AUREN_BRANCH to the branch being built (CI checkouts of a commit or a tag are detached), e.g. AUREN_BRANCH=main.',
    );
  }
  return {
    sha,
    sha7: sha.slice(0, 7),
    branch,
    commitDate,
    isPullRequest: PULL_REQUEST_EVENTS.has(env.GITHUB_EVENT_NAME ?? ''),
    detached,
  };
}
