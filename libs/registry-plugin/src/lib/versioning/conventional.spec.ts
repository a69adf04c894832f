import { bumpFor, commitEffect, parseConventionalCommit, type ConventionalCommit } from './conventional';

describe('parseConventionalCommit', () => {
  it.each<[string, string, string, ConventionalCommit | undefined]>([
    ['unscoped feat', 'feat: add login', '', { type: 'feat', breaking: false, description: 'add login' }],
    ['scoped fix', 'fix(api): handle 401', '', { type: 'fix', scope: 'api', breaking: false, description: 'handle 401' }],
    ['scope with slash and dash', 'perf(bridge/kafka-consumer): batch', '', { type: 'perf', scope: 'bridge/kafka-consumer', breaking: false, description: 'batch' }],
    ['! after type', 'feat!: drop v1', '', { type: 'feat', breaking: true, description: 'drop v1' }],
    ['! after scope', 'feat(api)!: drop v1', '', { type: 'feat', scope: 'api', breaking: true, description: 'drop v1' }],
    ['! on a non-feat type', 'refactor(nginx)!: new config layout', '', { type: 'refactor', scope: 'nginx', breaking: true, description: 'new config layout' }],
    ['BREAKING CHANGE footer', 'fix: token', 'Explain.\n\nBREAKING CHANGE: tokens expire', { type: 'fix', breaking: true, description: 'token' }],
    ['BREAKING-CHANGE footer', 'chore: deps', 'BREAKING-CHANGE: python 3.11', { type: 'chore', breaking: true, description: 'deps' }],
    ['lower-case footer is not a footer', 'fix: x', 'breaking change: no', { type: 'fix', breaking: false, description: 'x' }],
    ['"BREAKING CHANGE" in prose is not a footer', 'fix: x', 'This is not a BREAKING CHANGE: really', { type: 'fix', breaking: false, description: 'x' }],
    ['upper-case type', 'FEAT: shout', '', { type: 'feat', breaking: false, description: 'shout' }],
    ['mixed-case type with scope', 'Fix(API): x', '', { type: 'fix', scope: 'API', breaking: false, description: 'x' }],
    ['extra spaces after the colon', 'docs:   readme  ', '', { type: 'docs', breaking: false, description: 'readme' }],
    ['revert type', 'revert: feat(api): add login', 'Refs: abc1234', { type: 'revert', breaking: false, description: 'feat(api): add login' }],
    ["git's revert message", 'Revert "feat(api): add login"', 'This reverts commit 0123456789abcdef.', { type: 'revert', breaking: false, description: 'feat(api): add login' }],
    ['merge branch', "Merge branch 'feature/login' into main", '', undefined],
    ['merge pull request', 'Merge pull request #12 from auren/feature/login', 'feat(api): login', undefined],
    ['no space after colon', 'feat:login', '', undefined],
    ['empty scope', 'feat(): x', '', undefined],
    ['empty description', 'feat: ', '', undefined],
    ['plain sentence', 'Update README', '', undefined],
    ['fixup', 'fixup! feat: x', '', undefined],
    ['type with spaces', 'feat api: x', '', undefined],
  ])('%s: %j', (_name, subject, body, expected) => {
    expect(parseConventionalCommit(subject, body)).toEqual(expected);
  });
});

const c = (subject: string, body = '', parents = ['p1']) => ({ subject, body, parents });

describe('commitEffect / bumpFor', () => {
  it.each<[string, ReturnType<typeof c>, string]>([
    ['feat', c('feat: x'), 'minor'],
    ['scoped feat', c('feat(api): x'), 'minor'],
    ['fix', c('fix: x'), 'patch'],
    ['perf', c('perf(bridge): x'), 'patch'],
    ['breaking !', c('fix!: x'), 'major'],
    ['breaking footer', c('feat: x', 'BREAKING CHANGE: y'), 'major'],
    ['breaking footer under a non-conventional subject', c('Rework auth', 'BREAKING CHANGE: y'), 'major'],
    ['chore still changes the image', c('chore: deps'), 'patch'],
    ['docs', c('docs: x'), 'patch'],
    ['revert', c('Revert "feat: x"'), 'patch'],
    ['non-conventional', c('wip'), 'patch'],
    ['merge commit asks for nothing', c("Merge branch 'x'", '', ['p1', 'p2']), 'none'],
    ['even a conventional-looking merge', c('feat: merge login (#3)', '', ['p1', 'p2']), 'none'],
  ])('%s → %s', (_name, commit, effect) => {
    expect(commitEffect(commit)).toBe(effect);
  });

  it.each<[string, Array<ReturnType<typeof c>>, string]>([
    ['nothing', [], 'none'],
    ['strongest wins', [c('fix: a'), c('feat: b'), c('chore: c')], 'minor'],
    ['major beats all', [c('feat: a'), c('perf!: b')], 'major'],
    ['a merge adds no bump to its commits', [c("Merge branch 'x'", '', ['a', 'b']), c('docs: a')], 'patch'],
    ['only a merge (it changed the app): patch', [c("Merge branch 'x'", '', ['a', 'b'])], 'patch'],
  ])('bumpFor: %s → %s', (_name, commits, bump) => {
    expect(bumpFor(commits)).toBe(bump);
  });
});
