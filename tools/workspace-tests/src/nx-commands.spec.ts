import { findNxCommands, shellCommands } from './nx-commands';

describe('findNxCommands', () => {
  it.each([
    ['npx nx run registry:serve', [{ kind: 'run', project: 'registry', target: 'serve' }]],
    ['npx nx run auren-api:docker-push:production --dry-run', [{ kind: 'run', project: 'auren-api', target: 'docker-push' }]],
    ['nx biometric-bridge:scan', [{ kind: 'run', project: 'biometric-bridge', target: 'scan' }]],
    ['npx nx test auren-api', [{ kind: 'run', project: 'auren-api', target: 'test' }]],
    ['npm exec nx -- run base-image:docker-push', [{ kind: 'run', project: 'base-image', target: 'docker-push' }]],
    ['NX_VERBOSE_LOGGING=true npx nx run registry:gc', [{ kind: 'run', project: 'registry', target: 'gc' }]],
    [
      'npx nx affected -t lint test docker-build scan --parallel=2',
      [{ kind: 'multi', subcommand: 'affected', targets: ['lint', 'test', 'docker-build', 'scan'], projects: [], exclude: [] }],
    ],
    [
      'npx nx run-many --targets=test,typecheck -p auren-api registry-plugin --exclude base-image',
      [{ kind: 'multi', subcommand: 'run-many', targets: ['test', 'typecheck'], projects: ['auren-api', 'registry-plugin'], exclude: ['base-image'] }],
    ],
    ['npx nx affected --target=docker-push', [{ kind: 'multi', targets: ['docker-push'] }]],
    ['npx nx show project auren-api --json', [{ kind: 'show-project', project: 'auren-api' }]],
    ['npx nx show projects --affected --withTarget docker-push --json', [{ kind: 'other' }]],
    ['npx nx run registry:monitor --format markdown >> "$GITHUB_STEP_SUMMARY"', [{ kind: 'run', project: 'registry', target: 'monitor' }]],
    ['npx nx run ${{ matrix.project }}:docker-push', [{ kind: 'run', project: '${{matrix.project}}', target: 'docker-push' }]],
    ['nohup npx nx run registry:serve > log 2>&1 &', [{ kind: 'run', project: 'registry', target: 'serve' }]],
    ['echo "npx nx run not:this"', []],
    ['# npx nx run commented:out', []],
    ['npm ci && npx nx run a:b || npx nx run c:d', [{ project: 'a', target: 'b' }, { project: 'c', target: 'd' }]],
    ['npx nx run \\\n  auren-api:scan', [{ kind: 'run', project: 'auren-api', target: 'scan' }]],
  ])('%s', (script, expected) => {
    const found = findNxCommands(script);
    expect(found).toHaveLength(expected.length);
    expected.forEach((e, i) => expect(found[i]).toMatchObject(e));
  });

  it('does not treat a word that merely contains nx as Nx', () => {
    expect(findNxCommands('nginx -t && nxs run a:b')).toEqual([]);
  });

  it('keeps quoted words together', () => {
    expect(shellCommands(`echo "a b; c" 'd && e'`)).toEqual([['echo', 'a b; c', 'd && e']]);
  });
});
