import { AurenError } from '../errors/errors';
import { rm } from 'node:fs/promises';
import { exec } from '../exec/exec';
import { createTestRepo, mergeLoginFeature, mergeSideBranch, type TestProject, type TestRepo } from '../git/repo.testing';
import { decideVersion, type VersionDecision } from './decide';

const APPS = ['auren-api', 'biometric-bridge', 'auren-nginx'] as const;
type App = (typeof APPS)[number];
/** What the Nx graph gives each app: its own root plus the base image it builds FROM. */
const pathsOf = (app: App) => [`apps/${app}`, 'tools/base-image'];

async function tagAll(repo: TestRepo, version: string): Promise<void> {
  for (const app of APPS) await repo.tag(`${app}@${version}`);
}

type Expected = Pick<VersionDecision, 'bump' | 'current' | 'next'>;

interface Scenario {
  name: string;
  history: (repo: TestRepo) => Promise<void>;
  expect: Partial<Record<App, Expected>>;
  initialVersion?: string;
}

const none = (current: string): Expected => ({ bump: 'none', current, next: undefined });
const to = (bump: Expected['bump'], current: string, next: string): Expected => ({ bump, current, next });
const commitTo = (message: string, touch: TestProject[]) => async (repo: TestRepo) => {
  await tagAll(repo, '1.0.0');
  await repo.commit(message, touch);
};

const scenarios: Scenario[] = [
  {
    name: 'first release: no tag → the initial version',
    history: async (repo) => {
      await repo.commit('feat(api): hello', ['auren-api']);
    },
    expect: {
      'auren-api': { bump: 'initial', current: undefined, next: '0.1.0' },
      'auren-nginx': { bump: 'initial', current: undefined, next: '0.1.0' },
    },
  },
  {
    name: 'first release with a configured initial version',
    initialVersion: '1.0.0',
    history: async () => undefined,
    expect: { 'biometric-bridge': { bump: 'initial', current: undefined, next: '1.0.0' } },
  },
  { name: 'nothing since the tag', history: (repo) => tagAll(repo, '1.0.0'), expect: { 'auren-api': none('1.0.0') } },
  {
    name: 'scoped feat → minor, other apps untouched',
    history: commitTo('feat(api): login', ['auren-api']),
    expect: { 'auren-api': to('minor', '1.0.0', '1.1.0'), 'biometric-bridge': none('1.0.0'), 'auren-nginx': none('1.0.0') },
  },
  { name: 'unscoped feat → minor', history: commitTo('feat: login', ['auren-api']), expect: { 'auren-api': to('minor', '1.0.0', '1.1.0') } },
  { name: 'fix → patch', history: commitTo('fix(bridge): reconnect', ['biometric-bridge']), expect: { 'biometric-bridge': to('patch', '1.0.0', '1.0.1') } },
  { name: 'perf → patch', history: commitTo('perf: batch inserts', ['biometric-bridge']), expect: { 'biometric-bridge': to('patch', '1.0.0', '1.0.1') } },
  { name: '! → major', history: commitTo('feat(api)!: v2 routes', ['auren-api']), expect: { 'auren-api': to('major', '1.0.0', '2.0.0') } },
  {
    name: 'BREAKING CHANGE footer → major',
    history: commitTo('refactor(nginx): config\n\nBREAKING CHANGE: new upstream names', ['auren-nginx']),
    expect: { 'auren-nginx': to('major', '1.0.0', '2.0.0'), 'auren-api': none('1.0.0') },
  },
  { name: 'chore → patch (the image changed)', history: commitTo('chore(api): bump deps', ['auren-api']), expect: { 'auren-api': to('patch', '1.0.0', '1.0.1') } },
  { name: 'docs → patch', history: commitTo('docs: api readme', ['auren-api']), expect: { 'auren-api': to('patch', '1.0.0', '1.0.1') } },
  { name: 'non-conventional message → patch', history: commitTo('Update stuff', ['auren-nginx']), expect: { 'auren-nginx': to('patch', '1.0.0', '1.0.1') } },
  {
    name: 'one commit touching two apps bumps both',
    history: commitTo('feat: shared auth header', ['auren-api', 'auren-nginx']),
    expect: { 'auren-api': to('minor', '1.0.0', '1.1.0'), 'auren-nginx': to('minor', '1.0.0', '1.1.0'), 'biometric-bridge': none('1.0.0') },
  },
  {
    name: 'a base-image change bumps every app that builds on it',
    history: commitTo('fix(base): debian security update', ['base-image']),
    expect: { 'auren-api': to('patch', '1.0.0', '1.0.1'), 'biometric-bridge': to('patch', '1.0.0', '1.0.1'), 'auren-nginx': to('patch', '1.0.0', '1.0.1') },
  },
  {
    name: 'strongest of several commits wins',
    history: async (repo) => {
      await tagAll(repo, '1.2.3');
      await repo.commit('fix(api): a', ['auren-api']);
      await repo.commit('feat(api): b', ['auren-api']);
      await repo.commit('chore: c', ['auren-api']);
      await repo.commit('feat(bridge)!: d', ['biometric-bridge']);
    },
    expect: { 'auren-api': to('minor', '1.2.3', '1.3.0'), 'biometric-bridge': to('major', '1.2.3', '2.0.0'), 'auren-nginx': none('1.2.3') },
  },
  {
    name: '--no-ff merge: the branch commits count, the merge message adds nothing, other apps stay',
    history: async (repo) => {
      await tagAll(repo, '1.0.0');
      await mergeLoginFeature(repo);
    },
    expect: { 'auren-api': to('minor', '1.0.0', '1.1.0'), 'auren-nginx': to('patch', '1.0.0', '1.0.1'), 'biometric-bridge': none('1.0.0') },
  },
  {
    name: 'a merged branch that only touched nginx does not bump the api',
    history: async (repo) => {
      await tagAll(repo, '1.0.0');
      await mergeSideBranch(repo, 'nginx-only', { branch: [['fix(nginx): gzip', ['auren-nginx']]], main: [['chore: root tooling', ['nx.json']]] }, 'feat: merge everything (#7)');
    },
    expect: { 'auren-api': none('1.0.0'), 'auren-nginx': to('patch', '1.0.0', '1.0.1') },
  },
  {
    name: 'newest semver tag wins, not the newest tag or the highest string',
    history: async (repo) => {
      await repo.tag('auren-api@1.10.0');
      await repo.commit('fix(api): later', ['auren-api']);
      await repo.tag('auren-api@1.9.0');
      await repo.tag('auren-api@v7.0.0');
      await repo.commit('fix(api): since both', ['auren-api']);
    },
    expect: { 'auren-api': to('patch', '1.10.0', '1.10.1') },
  },
  {
    name: '0.x follows the same rules: breaking → major, feat → minor, fix → patch',
    history: async (repo) => {
      await repo.tag('auren-api@0.3.0');
      await repo.tag('auren-nginx@0.3.0');
      await repo.tag('biometric-bridge@0.3.0');
      await repo.commit('feat(api)!: new routes', ['auren-api']);
      await repo.commit('feat(nginx): brotli', ['auren-nginx']);
      await repo.commit('fix(bridge): x', ['biometric-bridge']);
    },
    expect: { 'auren-api': to('major', '0.3.0', '1.0.0'), 'auren-nginx': to('minor', '0.3.0', '0.4.0'), 'biometric-bridge': to('patch', '0.3.0', '0.3.1') },
  },
  {
    name: 'from a prerelease, a fix releases the final version',
    history: async (repo) => {
      await repo.tag('auren-api@1.0.0');
      await repo.commit('feat(api): rc', ['auren-api']);
      await repo.tag('auren-api@1.1.0-rc.1');
      await repo.commit('fix(api): rc fix', ['auren-api']);
    },
    expect: { 'auren-api': to('patch', '1.1.0-rc.1', '1.1.0') },
  },
];

describe('decideVersion over real git histories', () => {
  it.each(scenarios)('$name', async (scenario) => {
    const repo = await createTestRepo();
    try {
      await scenario.history(repo);
      for (const [app, expected] of Object.entries(scenario.expect) as Array<[App, Expected]>) {
        const decision = await decideVersion({ cwd: repo.dir, project: app, paths: pathsOf(app), initialVersion: scenario.initialVersion ?? '0.1.0' });
        expect({ app, bump: decision.bump, current: decision.current, next: decision.next }).toEqual({ app, ...expected });
        expect(decision.released).toBe(expected.current !== undefined);
        expect(decision.reason).toContain(app);
      }
    } finally {
      await repo.cleanup();
    }
  });

  it('reports each touching commit with its effect; the merge is not among them', async () => {
    const repo = await createTestRepo();
    try {
      await tagAll(repo, '2.0.0');
      await mergeSideBranch(repo, 'topic', { branch: [['feat(api): a', ['auren-api']]], main: [['chore: unrelated', ['auren-nginx']]] });
      await repo.commit('Tidy up', ['auren-api']);
      const decision = await decideVersion({ cwd: repo.dir, project: 'auren-api', paths: pathsOf('auren-api'), initialVersion: '0.1.0' });
      expect(decision.commits.map(({ subject, effect }) => ({ subject, effect }))).toEqual([
        { subject: 'Tidy up', effect: 'patch' },
        { subject: 'feat(api): a', effect: 'minor' },
      ]);
      expect(decision.commits.every((c) => /^[0-9a-f]{7}$/.test(c.sha7))).toBe(true);
      expect(decision.reason).toMatch(/^2 commits since auren-api@2\.0\.0 touch auren-api; strongest is minor \([0-9a-f]{7} "feat\(api\): a"\): 2\.0\.0 → 2\.1\.0$/);
    } finally {
      await repo.cleanup();
    }
  });

  it('refuses a shallow clone and an invalid initial version', async () => {
    const repo = await createTestRepo();
    const clone = `${repo.dir}-shallow`;
    try {
      await repo.commit('feat: a', ['auren-api']);
      await exec('git', ['clone', '--quiet', '--depth', '1', `file://${repo.dir}`, clone]);
      const shallow = await decideVersion({ cwd: clone, project: 'auren-api', paths: ['apps/auren-api'], initialVersion: '0.1.0' }).catch((e: unknown) => e);
      expect(shallow).toBeInstanceOf(AurenError);
      expect((shallow as AurenError).hint).toMatch(/fetch-depth: 0/);
      const invalid = await decideVersion({ cwd: repo.dir, project: 'auren-api', paths: ['apps/auren-api'], initialVersion: 'v1' }).catch((e: unknown) => e);
      expect((invalid as AurenError).kind).toBe('config');
    } finally {
      await repo.cleanup();
      await rm(clone, { recursive: true, force: true });
    }
  });
});
