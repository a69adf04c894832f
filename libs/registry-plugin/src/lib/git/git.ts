import { existsSync, statSync } from 'node:fs';
import { AurenError } from '../errors/errors';
import { exec, type ExecResult } from '../exec/exec';

/**
 * Every git call goes through here (and so through the one exec wrapper).
 * `LC_ALL=C` keeps git's messages stable for the few places that read them;
 * `log.showSignature=false` keeps a user's global config from injecting GPG output into
 * `git log --format` output that we parse.
 */
export async function git(cwd: string, args: readonly string[], okExitCodes: number[] = []): Promise<ExecResult> {
  return exec('git', ['-c', 'log.showSignature=false', ...args], {
    cwd,
    env: { LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' },
    okExitCodes,
  });
}

/** Folders already found inside a work tree: every git helper checks, and a batch runs many tasks. */
const knownRepositories = new Set<string>();

/** Throws a clear AurenError('git') unless `cwd` is inside a git work tree. */
export async function assertRepository(cwd: string): Promise<void> {
  if (knownRepositories.has(cwd)) return;
  if (!existsSync(cwd) || !statSync(cwd).isDirectory()) {
    throw new AurenError('git', `${cwd} does not exist or is not a directory`, 'Run from the workspace root of a git checkout.');
  }
  const result = await git(cwd, ['rev-parse', '--is-inside-work-tree'], [128]);
  if (result.exitCode !== 0 || result.stdout.trim() !== 'true') {
    const said = result.stderr.trim().split('\n')[0];
    throw new AurenError(
      'git',
      `${cwd} is not inside a git work tree${said ? ` (git: ${said})` : ''}`,
      'Versions and tags come from git: run from a git checkout (git clone …) of the workspace.',
    );
  }
  knownRepositories.add(cwd);
}

/** Full sha of `ref` as a commit, or undefined when it does not resolve. */
/** Whether `cwd` is inside a git work tree (a workspace copied without its .git is not). */
export async function isWorkTree(cwd: string): Promise<boolean> {
  return assertRepository(cwd).then(
    () => true,
    () => false,
  );
}

export async function resolveCommit(cwd: string, ref: string): Promise<string | undefined> {
  const result = await git(cwd, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], [1, 128]);
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

export async function isShallowRepository(cwd: string): Promise<boolean> {
  const result = await git(cwd, ['rev-parse', '--is-shallow-repository']);
  return result.stdout.trim() === 'true';
}
