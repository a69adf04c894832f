import { ExpressionError } from './errors';
import { evaluateCondition, evaluateExpression, evaluateTemplate, type ExprValue } from './expressions';

const contexts: Record<string, ExprValue> = {
  github: { ref: 'refs/heads/main', ref_name: 'main', event_name: 'push', event: { before: 'abc' } },
  env: { DRY_RUN: 'true', EMPTY: '' },
  vars: { AUREN_REGISTRY: 'registry.example/auren', AUREN_FANOUT_THRESHOLD: '' },
  secrets: { TOKEN: 's3cret' },
  steps: { plan: { outputs: { apps: '["a","b"]', fanout: 'false', count: '2' }, outcome: 'success', conclusion: 'success' } },
  needs: { plan: { result: 'success', outputs: { apps: '[]', base: 'true' } }, 'base-image': { result: 'skipped', outputs: {} } },
  matrix: { project: 'auren-api' },
  inputs: { 'trivy-version': '0.68.1', trivy: 'true', 'dry-run': false },
  runner: { os: 'Linux' },
};

describe('expressions', () => {
  it.each<[string, ExprValue]>([
    ["github.ref == 'refs/heads/main'", true],
    ["github.ref == 'REFS/HEADS/MAIN'", true],
    ["github.ref != 'refs/heads/develop'", true],
    ['github.REF_NAME', 'main'],
    ["github['event'].before", 'abc'],
    ["vars.AUREN_FANOUT_THRESHOLD || '3'", '3'],
    ["vars.AUREN_REGISTRY || 'x'", 'registry.example/auren'],
    ["vars.AUREN_REGISTRY != ''", true],
    ["vars.MISSING != ''", false],
    ['vars.MISSING', null],
    ['secrets.TOKEN', 's3cret'],
    ["env.DRY_RUN != 'true'", false],
    ['!env.EMPTY', true],
    ["inputs.trivy-version", '0.68.1'],
    ["inputs.dry-run && 'true' || 'false'", 'false'],
    ["steps.plan.outputs.fanout == 'false'", true],
    ['steps.plan.outputs.count > 1', true],
    ['steps.nope.outputs.x', null],
    ["needs.plan.result == 'success' && (needs.base-image.result == 'success' || needs.base-image.result == 'skipped')", true],
    ["needs.plan.outputs.apps != '[]'", false],
    ['fromJSON(steps.plan.outputs.apps)', ['a', 'b']],
    ['fromJSON(steps.plan.outputs.apps)[1]', 'b'],
    ["contains(fromJSON(steps.plan.outputs.apps), 'A')", true],
    ["contains(github.ref, 'heads')", true],
    ["startsWith(github.ref, 'refs/heads/')", true],
    ["endsWith(github.ref, '/main')", true],
    ["format('{0}-{1} {{x}}', matrix.project, 1)", 'auren-api-1 {x}'],
    ["join(fromJSON(steps.plan.outputs.apps), ', ')", 'a, b'],
    ['toJSON(matrix)', '{\n  "project": "auren-api"\n}'],
    ["'it''s'", "it's"],
    ['1 == true', true],
    ["'' == 0", true],
    ["'2' == 2.0", true],
    ['null == 0', true],
    ['0x10 == 16', true],
    ['-1 < 0', true],
    ['!(1 == 2)', true],
    ['runner.os', 'Linux'],
  ])('%s → %j', (expression, expected) => {
    expect(evaluateTemplate(`\${{ ${expression} }}`, { contexts })).toEqual(expected);
  });

  it('interpolates into strings, keeping literal text and } inside string literals', () => {
    expect(evaluateTemplate("Release ${{ matrix.project }} on ${{ github.ref_name }} ${{ '}}' }}", { contexts })).toBe('Release auren-api on main }}');
    expect(evaluateTemplate('n=${{ steps.plan.outputs.count }} ok=${{ 1 == 1 }} none=${{ vars.MISSING }}.', { contexts })).toBe('n=2 ok=true none=.');
  });

  it.each([
    ['hashFiles("x")', /unexpected character/],
    ["lookup('package-lock.json')", /unsupported function lookup/],
    // The workspace is where hashFiles() reads; without github.workspace there is none.
    ["hashFiles('package-lock.json')", /hashFiles\(\) needs github.workspace/],
    ['unknown.thing', /unknown context "unknown"/],
    ['github.event.*.name', /object filters/],
    ["github.ref == 'main", /no closing \}\}/],
    ['(1 == 1', /expected "\)"/],
    ['1 == 1 2', /unexpected token/],
    ["fromJSON('{nope')", /invalid JSON/],
    ["format('{1}', 'a')", /no argument \{1\}/],
  ])('fails loudly on %s', (expression, message) => {
    expect(() => evaluateTemplate(`\${{ ${expression} }}`, { contexts })).toThrow(ExpressionError);
    expect(() => evaluateTemplate(`\${{ ${expression} }}`, { contexts })).toThrow(message);
  });

  it('names an unterminated string literal', () => {
    expect(() => evaluateExpression("github.ref == 'main", { contexts })).toThrow(/unterminated string literal/);
  });

  it('refuses a context that is not available', () => {
    expect(() => evaluateTemplate('${{ steps.x }}', { contexts: { github: {} } })).toThrow(/the steps context is not available/);
  });

  it.each<[unknown, boolean, boolean]>([
    [undefined, false, true],
    [undefined, true, false],
    ['always()', true, true],
    ['success()', true, false],
    ['failure()', true, true],
    ['failure()', false, false],
    ["github.ref == 'refs/heads/main'", false, true],
    ["github.ref == 'refs/heads/main'", true, false], // implicitly success() && …
    ["${{ github.ref == 'refs/heads/develop' }}", false, false],
    ["always() && steps.plan.outputs.apps != '[]'", true, true],
    ["env.DRY_RUN != 'true'", false, false],
    ["vars.AUREN_REGISTRY != ''", false, true],
    ['secrets.TOKEN', false, true],
    [true, false, true],
    [false, false, false],
  ])('if: %s (earlier failure: %s) → %s', (condition, failed, expected) => {
    expect(evaluateCondition(condition, { contexts, failed })).toBe(expected);
  });
});
