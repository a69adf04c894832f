import { mkdtemp, mkdir, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { exec } from '../exec/exec';

/**
 * Test helper: a real git repository in a temp folder, laid out like the AUREN workspace, with
 * scripted history. Identity and dates are fixed (each commit is one minute after the previous
 * one, starting at `start`), so shas and date tags are the same on every run and machine.
 */
export const APP_PATHS = {
  'auren-api': 'apps/auren-api',
  'biometric-bridge': 'apps/biometric-bridge',
  'auren-nginx': 'apps/auren-nginx',
  'base-image': 'tools/base-image',
} as const;
export type TestProject = keyof typeof APP_PATHS;

export const TEST_START = new Date('2024-03-05T10:00:00Z');

export interface TestRepo {
  dir: string;
  /** Runs git in the repo with the fixed identity and the current scripted date. */
  git(...args: string[]): Promise<string>;
  /**
   * Commits a change to each listed file or project (a project name touches `<root>/src.txt`).
   * Returns the full sha.
   */
  commit(message: string, touch: Array<TestProject | string>, options?: { date?: Date }): Promise<string>;
  tag(name: string, ref?: string): Promise<void>;
  branch(name: string): Promise<void>;
  checkout(ref: string): Promise<void>;
  /** `git merge --no-ff` with git's default "Merge branch '…'" message unless one is given. */
  merge(branch: string, message?: string): Promise<string>;
  head(): Promise<string>;
  cleanup(): Promise<void>;
}

export async function createTestRepo(options: { start?: Date; initialBranch?: string } = {}): Promise<TestRepo> {
  const dir = await mkdtemp(join(tmpdir(), 'auren-git-'));
  let clock = (options.start ?? TEST_START).getTime();
  let counter = 0;
  const nextDate = (date?: Date) => {
    if (date) clock = date.getTime();
    else clock += 60_000;
    return new Date(clock).toISOString().replace(/\.\d{3}Z$/, 'Z');
  };
  const env = (date: string): NodeJS.ProcessEnv => ({
    GIT_AUTHOR_NAME: 'Auren Test',
    GIT_AUTHOR_EMAIL: 'test@auren.invalid',
    GIT_COMMITTER_NAME: 'Auren Test',
    GIT_COMMITTER_EMAIL: 'test@auren.invalid',
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
    // Keep the machine's own git config (signing, hooks, default branch) out of the tests.
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
    LC_ALL: 'C',
  });
  const run = async (args: string[], date = new Date(clock).toISOString()) =>
    (await exec('git', args, { cwd: dir, env: env(date) })).stdout.trim();

  const touchFile = async (target: string): Promise<void> => {
    const relative = target in APP_PATHS ? `${APP_PATHS[target as TestProject]}/src.txt` : target;
    const file = join(dir, relative);
    await mkdir(dirname(file), { recursive: true });
    await appendFile(file, `change ${++counter}\n`);
  };

  await run(['init', '--quiet', '--initial-branch', options.initialBranch ?? 'main']);
  await run(['config', 'commit.gpgsign', 'false']);
  await run(['config', 'tag.gpgsign', 'false']);
  // The code under test runs git with the caller's environment: the repository carries the
  // identity, so an annotated tag needs none from the machine (a CI runner may have none).
  await run(['config', 'user.name', 'Auren Test']);
  await run(['config', 'user.email', 'test@auren.invalid']);
  for (const [project, root] of Object.entries(APP_PATHS)) {
    await mkdir(join(dir, root), { recursive: true });
    await writeFile(join(dir, root, 'project.json'), JSON.stringify({ name: project }) + '\n');
  }
  await writeFile(join(dir, 'nx.json'), '{}\n');

  const repo: TestRepo = {
    dir,
    git: (...args) => run(args),
    async commit(message, touch, opts = {}) {
      const date = nextDate(opts.date);
      for (const target of touch) await touchFile(target);
      await run(['add', '--all'], date);
      await run(['commit', '--quiet', '--allow-empty', '--message', message], date);
      return run(['rev-parse', 'HEAD']);
    },
    async tag(name, ref = 'HEAD') {
      await run(['tag', '--annotate', '--message', name, name, ref]);
    },
    async branch(name) {
      await run(['branch', name]);
    },
    async checkout(ref) {
      await run(['checkout', '--quiet', ref]);
    },
    async merge(branch, message) {
      const date = nextDate();
      await run(['merge', '--no-ff', '--quiet', ...(message ? ['--message', message] : ['--no-edit']), branch], date);
      return run(['rev-parse', 'HEAD']);
    },
    head: () => run(['rev-parse', 'HEAD']),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  // The scaffold commit every history starts from (touches every project).
  await repo.commit('chore: scaffold workspace', [], { date: new Date(clock) });
  return repo;
}

/** A commit as `[message, touched files or projects]`. */
export type TestChange = [message: string, touch: Array<TestProject | string>];

/**
 * A side branch merged with --no-ff, as the git and versioning specs write their histories:
 * `branch` from HEAD with its commits, meanwhile `main`'s commits, then the merge (its sha
 * returned; `message` replaces git's default).
 */
export async function mergeSideBranch(
  repo: TestRepo,
  branch: string,
  commits: { branch: TestChange[]; main: TestChange[] },
  message?: string,
): Promise<string> {
  await repo.branch(branch);
  await repo.checkout(branch);
  for (const [subject, touch] of commits.branch) await repo.commit(subject, touch);
  await repo.checkout('main');
  for (const [subject, touch] of commits.main) await repo.commit(subject, touch);
  return repo.merge(branch, message);
}

/** The merge both specs read: a feat and a fix of auren-api on `feature/login`, a docs commit of auren-nginx on main. */
export const mergeLoginFeature = (repo: TestRepo): Promise<string> =>
  mergeSideBranch(repo, 'feature/login', {
    branch: [['feat(api): login form', ['auren-api']], ['fix(api): typo', ['auren-api']]],
    main: [['docs(nginx): readme', ['auren-nginx']]],
  });
