import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AurenError } from '../errors/errors';
import { exec } from '../exec/exec';
import { commitsSince, createTag, latestVersionTag, listVersionTags, readGitContext, tagExists } from './index';
import { TEST_START, createTestRepo, mergeLoginFeature, mergeSideBranch, type TestRepo } from './repo.testing';

const repos: TestRepo[] = [];
async function repo(): Promise<TestRepo> {
  const r = await createTestRepo();
  repos.push(r);
  return r;
}
afterAll(async () => {
  await Promise.all(repos.map((r) => r.cleanup()));
});

async function rejection(promise: Promise<unknown>): Promise<AurenError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AurenError);
  return error as AurenError;
}

describe('readGitContext', () => {
  let r: TestRepo;
  let sha: string;
  beforeAll(async () => {
    r = await repo();
    sha = await r.commit('feat(api): login', ['auren-api'], { date: new Date('2024-06-01T08:09:59Z') });
  });

  it('reads sha, 7-character sha, branch and committer date from HEAD', async () => {
    await expect(readGitContext(r.dir, {})).resolves.toEqual({
      sha,
      sha7: sha.slice(0, 7),
      branch: 'main',
      commitDate: new Date('2024-06-01T08:09:59Z'),
      isPullRequest: false,
      detached: false,
    });
  });

  it.each<[string, NodeJS.ProcessEnv, string, boolean]>([
    ['AUREN_BRANCH wins over everything', { AUREN_BRANCH: 'release/7', GITHUB_REF_NAME: 'x', GITHUB_HEAD_REF: 'y', GITHUB_EVENT_NAME: 'pull_request' }, 'release/7', true],
    ['AUREN_BRANCH given as a full ref', { AUREN_BRANCH: 'refs/heads/develop' }, 'develop', false],
    ['pull_request uses the head branch, not <n>/merge', { GITHUB_EVENT_NAME: 'pull_request', GITHUB_HEAD_REF: 'feature/Login_Page', GITHUB_REF_NAME: '12/merge' }, 'feature/Login_Page', true],
    ['pull_request_target too', { GITHUB_EVENT_NAME: 'pull_request_target', GITHUB_HEAD_REF: 'fix/x', GITHUB_REF_NAME: 'main' }, 'fix/x', true],
    ['push uses GITHUB_REF_NAME', { GITHUB_EVENT_NAME: 'push', GITHUB_REF_NAME: 'develop', GITHUB_HEAD_REF: '' }, 'develop', false],
    ['GITHUB_HEAD_REF outside pull requests is ignored', { GITHUB_EVENT_NAME: 'push', GITHUB_HEAD_REF: 'stale' }, 'main', false],
    ['a tag push does not name a branch: falls back to git', { GITHUB_REF_NAME: 'auren-api@1.0.0', GITHUB_REF_TYPE: 'tag' }, 'main', false],
    ['empty variables are unset', { AUREN_BRANCH: '  ', GITHUB_REF_NAME: '' }, 'main', false],
  ])('branch: %s', async (_name, env, branch, isPullRequest) => {
    const context = await readGitContext(r.dir, env);
    expect(context.branch).toBe(branch);
    expect(context.isPullRequest).toBe(isPullRequest);
  });

  it('names the branch, not `heads/main`, when a tag has the same name', async () => {
    const other = await repo();
    await other.git('tag', 'main');
    await expect(readGitContext(other.dir, {})).resolves.toMatchObject({ branch: 'main', detached: false });
  });

  it('detached HEAD: uses the environment, or fails with a hint to set AUREN_BRANCH', async () => {
    const other = await repo();
    await other.commit('fix: x', ['auren-nginx']);
    await other.checkout('HEAD~1');
    await expect(readGitContext(other.dir, { GITHUB_REF_NAME: 'main' })).resolves.toMatchObject({ branch: 'main', detached: true });
    const error = await rejection(readGitContext(other.dir, {}));
    expect(error.kind).toBe('git');
    expect(error.message).toMatch(/HEAD is detached at [0-9a-f]{7}/);
    expect(error.hint).toMatch(/AUREN_BRANCH/);
  });

  it('fails clearly outside a git repository, in a missing folder and in a repository without commits', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'auren-nogit-'));
    try {
      const notRepo = await rejection(readGitContext(empty, {}));
      expect(notRepo.kind).toBe('git');
      expect(notRepo.message).toMatch(/is not inside a git work tree/);
      const missing = await rejection(readGitContext(join(empty, 'nope'), {}));
      expect(missing.message).toMatch(/does not exist/);
      await exec('git', ['init', '--quiet'], { cwd: empty });
      const noCommits = await rejection(readGitContext(empty, {}));
      expect(noCommits.message).toMatch(/has no commits yet/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('version tags', () => {
  it('lists <project>@<semver> tags in semver order, ignoring other projects and invalid versions', async () => {
    const r = await repo();
    // Created in this order, so neither date nor lexical order matches semver order.
    for (const tag of ['auren-api@1.10.0', 'auren-api@1.9.0', 'auren-api@1.2.0-rc.1', 'auren-api@1.2.0', 'auren-api@v2.0.0', 'auren-api@latest', 'auren-api@3.0.0+build.5', 'auren-api-v2@9.0.0', 'auren-nginx@4.0.0', 'auren-api@01.0.0']) {
      await r.commit(`chore: release ${tag}`, ['auren-api']);
      await r.tag(tag);
    }
    const list = await listVersionTags(r.dir, 'auren-api');
    expect(list.map((t) => t.tag)).toEqual(['auren-api@1.2.0-rc.1', 'auren-api@1.2.0', 'auren-api@1.9.0', 'auren-api@1.10.0']);
    await expect(latestVersionTag(r.dir, 'auren-api')).resolves.toEqual({ tag: 'auren-api@1.10.0', version: '1.10.0' });
    await expect(latestVersionTag(r.dir, 'biometric-bridge')).resolves.toBeUndefined();
  });

  it('createTag makes an annotated tag, is a no-op at HEAD and refuses to move a tag', async () => {
    const r = await repo();
    const first = await r.head();
    await expect(tagExists(r.dir, 'auren-api@0.1.0')).resolves.toBe(false);
    await expect(createTag(r.dir, 'auren-api@0.1.0', 'auren-api 0.1.0')).resolves.toBe('created');
    await expect(tagExists(r.dir, 'auren-api@0.1.0')).resolves.toBe(true);
    expect(await r.git('cat-file', '-t', 'auren-api@0.1.0')).toBe('tag');
    expect(await r.git('rev-list', '-n', '1', 'auren-api@0.1.0')).toBe(first);
    expect(await r.git('tag', '-l', '--format=%(contents:subject)', 'auren-api@0.1.0')).toBe('auren-api 0.1.0');
    await expect(createTag(r.dir, 'auren-api@0.1.0', 'again')).resolves.toBe('exists');
    await r.commit('fix(api): x', ['auren-api']);
    const moved = await rejection(createTag(r.dir, 'auren-api@0.1.0', 'again'));
    expect(moved.kind).toBe('git');
    expect(moved.message).toBe(`tag auren-api@0.1.0 already exists at ${first.slice(0, 7)}, not at HEAD (${(await r.head()).slice(0, 7)})`);
    const invalid = await rejection(createTag(r.dir, 'bad..name', 'x'));
    expect(invalid.kind).toBe('input');
  });
});

describe('commitsSince', () => {
  it('lists commits since a ref that touch the paths, newest first, with body and parents', async () => {
    const r = await repo();
    await r.tag('auren-api@1.0.0');
    const a = await r.commit('feat(api): add login', ['auren-api']);
    await r.commit('fix(nginx): headers', ['auren-nginx']);
    const c = await r.commit('refactor: split\n\nLong body line.\n\nBREAKING CHANGE: token format', ['auren-api', 'biometric-bridge']);
    const commits = await commitsSince(r.dir, 'refs/tags/auren-api@1.0.0', ['apps/auren-api']);
    expect(commits).toEqual([
      { sha: c, subject: 'refactor: split', body: 'Long body line.\n\nBREAKING CHANGE: token format', parents: [expect.any(String)] },
      { sha: a, subject: 'feat(api): add login', body: '', parents: [expect.any(String)] },
    ]);
    expect(await commitsSince(r.dir, undefined, ['apps/auren-api'])).toHaveLength(3); // + scaffold
    expect(await commitsSince(r.dir, 'HEAD', ['apps/auren-api'])).toEqual([]);
    expect((await commitsSince(r.dir, 'auren-api@1.0.0', ['apps/biometric-bridge', 'apps/auren-nginx'])).map((x) => x.subject)).toEqual([
      'refactor: split',
      'fix(nginx): headers',
    ]);
  });

  it('a --no-ff merge yields the merged commits, and only touches the apps its branch changed', async () => {
    const r = await repo();
    await r.tag('auren-api@1.0.0');
    await r.tag('auren-nginx@1.0.0');
    const merge = await mergeLoginFeature(r);
    expect((await r.git('rev-list', '--parents', '-n', '1', 'HEAD')).split(' ')).toHaveLength(3);
    const api = await commitsSince(r.dir, 'auren-api@1.0.0', ['apps/auren-api']);
    expect(api.map((c) => c.subject)).toEqual(['fix(api): typo', 'feat(api): login form']);
    expect(api.map((c) => c.sha)).not.toContain(merge);
    const nginx = await commitsSince(r.dir, 'auren-nginx@1.0.0', ['apps/auren-nginx']);
    expect(nginx.map((c) => c.subject)).toEqual(['docs(nginx): readme']);
  });

  it('lists a merge when both sides changed the paths, with both parents', async () => {
    const r = await repo();
    await r.tag('auren-api@1.0.0');
    await mergeSideBranch(r, 'topic', { branch: [['feat(api): a', ['apps/auren-api/a.txt']]], main: [['fix(api): b', ['apps/auren-api/b.txt']]] });
    const api = await commitsSince(r.dir, 'auren-api@1.0.0', ['apps/auren-api']);
    expect(api.map((c) => [c.subject, c.parents.length])).toEqual([
      ["Merge branch 'topic'", 2],
      // --topo-order keeps each line of history together: the merged branch, then main.
      ['feat(api): a', 1],
      ['fix(api): b', 1],
    ]);
  });

  it('rejects an unknown ref and an empty path list', async () => {
    const r = await repo();
    expect((await rejection(commitsSince(r.dir, 'auren-api@9.9.9', ['apps']))).kind).toBe('git');
    expect((await rejection(commitsSince(r.dir, undefined, []))).kind).toBe('input');
  });

  it('uses the fixed test clock', async () => {
    const r = await repo();
    expect(await r.git('log', '-1', '--format=%cI')).toBe(TEST_START.toISOString().replace('.000Z', '+00:00'));
  });
});
