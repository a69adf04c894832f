import { AurenError } from '../errors/errors';
import type { AurenConfig } from '../config/options';
import type { GitContext } from '../git/context';
import { readGitContext } from '../git/context';
import { createTestRepo } from '../git/repo.testing';
import { MAX_TAG_LENGTH, formatDateTag, isValidTag, planTags, sanitizeBranch, type TagPlan } from './index';

const strategy: AurenConfig['tags'] = {
  mainBranches: ['main', 'master'],
  developBranches: ['develop'],
  aliases: false,
  pushPullRequests: false,
  initialVersion: '0.1.0',
};
const SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const ctx = (branch: string, extra: Partial<GitContext> = {}): GitContext => ({
  sha: SHA,
  sha7: SHA.slice(0, 7),
  branch,
  commitDate: new Date('2024-03-05T09:07:59Z'),
  isPullRequest: false,
  detached: false,
  ...extra,
});

describe('sanitizeBranch', () => {
  it.each<[string, number, string]>([
    ['main', 128, 'main'],
    ['feature/Login_Page', 128, 'feature-login-page'],
    ['Feature//Login__Page', 128, 'feature-login-page'],
    ['release/1.2.x', 128, 'release-1.2.x'],
    ['-._leading-and-trailing_.-', 128, 'leading-and-trailing'],
    ['dependabot/npm_and_yarn/semver-7.6.0', 128, 'dependabot-npm-and-yarn-semver-7.6.0'],
    ['fix/ümlaut-größe', 128, 'fix-mlaut-gr-e'],
    ['a-/-b', 128, 'a-b'],
    ['日本語', 128, ''],
    ['abcdef-ghij', 7, 'abcdef'],
    ['abcdef.ghij', 7, 'abcdef'],
  ])('%j (max %d) → %j', (branch, max, slug) => {
    expect(sanitizeBranch(branch, max)).toBe(slug);
  });
});

describe('formatDateTag', () => {
  it.each<[string, string]>([
    ['2024-03-05T09:07:59Z', '20240305-0907'],
    ['2024-12-31T23:59:00-02:00', '20250101-0159'],
    ['1999-01-02T03:04:05.999Z', '19990102-0304'],
  ])('%s → %s (UTC)', (iso, tag) => {
    expect(formatDateTag(new Date(iso))).toBe(tag);
  });
});

describe('planTags', () => {
  it.each<[string, { version?: string; git: GitContext; strategy?: Partial<AurenConfig['tags']> }, Omit<TagPlan, 'reason'>]>([
    ['main, stable release', { version: '1.4.0', git: ctx('main') }, { kind: 'release', tags: ['v1.4.0', 'main-a1b2c3d', '20240305-0907', 'latest'], push: true }],
    [
      'main with aliases',
      { version: '1.4.2', git: ctx('main'), strategy: { aliases: true } },
      { kind: 'release', tags: ['v1.4.2', '1.4', '1', 'main-a1b2c3d', '20240305-0907', 'latest'], push: true },
    ],
    ['master is a main branch too', { version: '0.2.0', git: ctx('master') }, { kind: 'release', tags: ['v0.2.0', 'master-a1b2c3d', '20240305-0907', 'latest'], push: true }],
    [
      'main, prerelease: no latest, no aliases',
      { version: '2.0.0-rc.1', git: ctx('main'), strategy: { aliases: true } },
      { kind: 'release', tags: ['v2.0.0-rc.1', 'main-a1b2c3d', '20240305-0907'], push: true },
    ],
    ['main without a new version: latest stays', { git: ctx('main') }, { kind: 'release', tags: ['main-a1b2c3d', '20240305-0907'], push: true }],
    ['develop', { version: '1.4.0', git: ctx('develop') }, { kind: 'develop', tags: ['dev', 'develop-a1b2c3d'], push: true }],
    ['feature branch', { version: '1.4.0', git: ctx('feature/Login_Page') }, { kind: 'branch', tags: ['dev-feature-login-page', 'feature-login-page-a1b2c3d'], push: true }],
    ['custom main branch list', { version: '3.0.0', git: ctx('trunk'), strategy: { mainBranches: ['trunk'] } }, { kind: 'release', tags: ['v3.0.0', 'trunk-a1b2c3d', '20240305-0907', 'latest'], push: true }],
    ['main is not a release when listed nowhere', { version: '3.0.0', git: ctx('main'), strategy: { mainBranches: ['trunk'] } }, { kind: 'branch', tags: ['dev-main', 'main-a1b2c3d'], push: true }],
    ['pull request: built, not pushed', { version: '1.4.0', git: ctx('feature/Login_Page', { isPullRequest: true }) }, { kind: 'pull-request', tags: ['pr-feature-login-page-a1b2c3d', 'pr-feature-login-page'], push: false }],
    ['pull request from a fork\'s main is still a PR', { version: '1.4.0', git: ctx('main', { isPullRequest: true }) }, { kind: 'pull-request', tags: ['pr-main-a1b2c3d', 'pr-main'], push: false }],
    [
      'pull request with pushPullRequests',
      { git: ctx('fix/x', { isPullRequest: true }), strategy: { pushPullRequests: true } },
      { kind: 'pull-request', tags: ['pr-fix-x-a1b2c3d', 'pr-fix-x'], push: true },
    ],
  ])('%s', (_name, input, expected) => {
    const plan = planTags({ version: input.version, git: input.git, strategy: { ...strategy, ...input.strategy } });
    expect({ kind: plan.kind, tags: plan.tags, push: plan.push }).toEqual(expected);
    expect(plan.reason).not.toBe('');
    expect(plan.tags.every(isValidTag)).toBe(true);
    expect(plan.tags.indexOf('latest')).toBe(plan.tags.includes('latest') ? plan.tags.length - 1 : -1);
  });

  it('development builds never move latest', () => {
    for (const git of [ctx('develop'), ctx('feature/x'), ctx('main', { isPullRequest: true })]) {
      expect(planTags({ version: '9.0.0', git, strategy: { ...strategy, aliases: true, pushPullRequests: true } }).tags).not.toContain('latest');
    }
  });

  it.each([
    ['a 300-character branch', `feature/${'Very_Long-Name/'.repeat(20)}end`],
    ['a long branch whose cut falls on a separator', `${'a'.repeat(116)}/bcd`],
    ['a long branch with dots at the cut', `${'b'.repeat(115)}..cd`],
  ])('%s is trimmed so every tag fits %#', (_name, branch) => {
    for (const git of [ctx(branch), ctx(branch, { isPullRequest: true })]) {
      const plan = planTags({ git, strategy });
      for (const tag of plan.tags) {
        expect(tag.length).toBeLessThanOrEqual(MAX_TAG_LENGTH);
        expect(isValidTag(tag)).toBe(true);
        expect(tag).not.toMatch(/--|-\.|\.-/);
      }
    }
    const pr = planTags({ git: ctx(`${'x'.repeat(200)}`, { isPullRequest: true }), strategy });
    expect(pr.tags[0]).toHaveLength(MAX_TAG_LENGTH);
  });

  it.each<[string, { version?: string; branch: string }, RegExp]>([
    ['a branch with no usable character', { branch: '日本語' }, /no character usable in an image tag/],
    ['a version with build metadata', { version: '1.0.0+build.1', branch: 'main' }, /not a plain semver/],
    ['a v-prefixed version', { version: 'v1.0.0', branch: 'main' }, /not a plain semver/],
  ])('rejects %s with an input error', (_name, input, message) => {
    let error: unknown;
    try {
      planTags({ version: input.version, git: ctx(input.branch), strategy });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).kind).toBe('input');
    expect((error as AurenError).message).toMatch(message);
  });

  it('is deterministic: the same commit gives the same tags, dated by the commit, on every run', async () => {
    const repo = await createTestRepo();
    try {
      await repo.commit('feat(api): x', ['auren-api'], { date: new Date('2024-07-08T21:42:30Z') });
      const sha = await repo.head();
      await repo.commit('fix(api): later', ['auren-api'], { date: new Date('2025-01-01T00:00:00Z') });
      await repo.checkout(sha);
      const first = planTags({ version: '1.2.0', git: await readGitContext(repo.dir, { AUREN_BRANCH: 'main' }), strategy });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const again = planTags({ version: '1.2.0', git: await readGitContext(repo.dir, { GITHUB_REF_NAME: 'main' }), strategy });
      expect(again).toEqual(first);
      expect(first.tags).toEqual(['v1.2.0', `main-${sha.slice(0, 7)}`, '20240708-2142', 'latest']);
    } finally {
      await repo.cleanup();
    }
  });
});
