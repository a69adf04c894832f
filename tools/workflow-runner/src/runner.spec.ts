import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowRunnerError } from './errors';
import { jobCondition, matrixCombinations, runWorkflowJob, type RunWorkflowJobOptions } from './runner';
import { noEffect, nxSetShas, recordUpload } from './stand-ins';

describe('runWorkflowJob', () => {
  let dir: string;
  const event = { name: 'push', ref: 'refs/heads/main', sha: '1234567890abcdef1234567890abcdef12345678', before: 'feedface' };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wf-runner-'));
    await mkdir(join(dir, '.github', 'workflows'), { recursive: true });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function workflow(yaml: string, files: Record<string, string> = {}): Promise<string> {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    await writeFile(join(dir, '.github/workflows/w.yml'), yaml);
    return '.github/workflows/w.yml';
  }

  const run = (workflowFile: string, extra: Partial<RunWorkflowJobOptions> = {}) =>
    runWorkflowJob({ workflowFile, job: 'main', cwd: dir, env: { PATH: process.env.PATH, HOME: dir }, event, standIns: {}, ...extra });

  it('runs steps in order with workflow, job and step env, GITHUB_ENV, GITHUB_PATH and outputs', async () => {
    const file = await workflow(`
env: { LEVEL: workflow, W: w }
jobs:
  main:
    env: { LEVEL: job, REG: "\${{ vars.REG }}" }
    outputs:
      greeting: \${{ steps.one.outputs.greeting }}
      multi: \${{ steps.one.outputs.multi }}
    steps:
      - id: one
        run: |
          echo "greeting=hello $W $LEVEL $REG" >> "$GITHUB_OUTPUT"
          printf 'multi<<END\\na\\nb\\nEND\\n' >> "$GITHUB_OUTPUT"
          echo "FROM_ENV=exported" >> "$GITHUB_ENV"
          mkdir -p bin && printf '#!/bin/sh\\necho tool-ran\\n' > bin/tool && chmod +x bin/tool
          echo "$PWD/bin" >> "$GITHUB_PATH"
          echo "## one" >> "$GITHUB_STEP_SUMMARY"
      - name: second \${{ steps.one.outputs.greeting }}
        env: { LEVEL: step }
        run: |
          test "$FROM_ENV" = exported
          test "$LEVEL" = step
          test "$GITHUB_REF_NAME" = main
          test "$GITHUB_SHA" = ${event.sha}
          test "$CI" = true
          test -d "$RUNNER_TEMP"
          tool
          echo "env=\${{ env.FROM_ENV }} ref=\${{ github.ref }}" >> "$GITHUB_STEP_SUMMARY"
      - working-directory: bin
        run: test "$(basename "$PWD")" = bin
`);
    const result = await run(file, { vars: { REG: 'r.example/ns' } });
    expect(result.failure).toBeUndefined();
    expect(result.result).toBe('success');
    expect(result.outputs).toEqual({ greeting: 'hello w job r.example/ns', multi: 'a\nb' });
    expect(result.steps.map((s) => [s.name, s.outcome])).toEqual([
      ['echo "greeting=hello $W $LEVEL $REG" >> "$GITHUB_OUTPUT"', 'success'],
      ['second hello w job r.example/ns', 'success'],
      ['test "$(basename "$PWD")" = bin', 'success'],
    ]);
    expect(result.log).toContain('tool-ran');
    expect(result.summary).toBe('## one\n\nenv=exported ref=refs/heads/main\n');
  });

  it('bash -e {0} by default: a failing command fails the step; later steps run only if: always()/failure()', async () => {
    const file = await workflow(`
jobs:
  main:
    steps:
      - run: |
          echo before
          false
          echo never
      - run: echo skipped-by-default
      - if: always()
        run: echo "::error::from always"
      - if: failure()
        run: echo failure-ran
      - if: github.ref == 'refs/heads/main'
        run: echo implicit-success
`);
    const result = await run(file);
    expect(result.result).toBe('failure');
    expect(result.steps.map((s) => s.outcome)).toEqual(['failure', 'skipped', 'success', 'success', 'skipped']);
    expect(result.failure).toMatch(/step "echo before" failed: "echo before" exited with code 1:\nbefore/);
    expect(result.log).not.toContain('never');
    expect(result.annotations).toEqual(['::error::from always']);
  });

  it('without shell: a failing pipeline stage is ignored (bash -e, no pipefail); shell: bash adds pipefail', async () => {
    const file = await workflow(`
jobs:
  main:
    steps:
      - run: false | true
      - shell: bash
        continue-on-error: true
        run: false | true
`);
    const result = await run(file);
    expect(result.steps.map((s) => [s.outcome, s.conclusion])).toEqual([
      ['success', 'success'],
      ['failure', 'success'],
    ]);
    expect(result.result).toBe('success');
  });

  it('skips steps and whole jobs whose if: is false, and honours needs results', async () => {
    const file = await workflow(`
jobs:
  main:
    needs: [plan, base]
    if: always() && needs.plan.result == 'success' && (needs.base.result == 'success' || needs.base.result == 'skipped')
    steps:
      - if: vars.FLAG
        run: echo flagged
      - if: \${{ !vars.FLAG }}
        run: echo unflagged
      - if: needs.plan.outputs.apps != '[]'
        run: echo "apps=\${{ join(fromJSON(needs.plan.outputs.apps), ' ') }}"
  other:
    needs: plan
    steps:
      - run: echo other
`);
    const needs = { plan: { result: 'success' as const, outputs: { apps: '["x","y"]' } }, base: { result: 'skipped' as const, outputs: {} } };
    const result = await run(file, { needs });
    expect(result.steps.map((s) => s.outcome)).toEqual(['skipped', 'success', 'success']);
    expect(result.log).toContain('apps=x y');
    // A job without always() is skipped when a needed job did not succeed.
    const other = await run(file, { job: 'other', needs: { plan: { result: 'failure', outputs: {} } } });
    expect(other.result).toBe('skipped');
    await expect(run(file, { needs: { plan: needs.plan } })).rejects.toThrow(/job main needs base. Run base first/);
  });

  it('expands local composite actions with inputs, defaults, outputs and GITHUB_ACTION_PATH', async () => {
    const file = await workflow(
      `
jobs:
  main:
    steps:
      - id: setup
        uses: ./.github/actions/setup
        with:
          flavour: \${{ github.ref_name }}
      - run: |
          test "$FROM_ACTION" = main-1.2
          echo "out=\${{ steps.setup.outputs.answer }}"
`,
      {
        '.github/actions/setup/action.yml': `
name: setup
inputs:
  flavour: { description: x, required: true }
  version: { description: y, default: '1.2' }
  extra: { description: z, default: 'off' }
outputs:
  answer: { description: a, value: "\${{ steps.inner.outputs.answer }}" }
runs:
  using: composite
  steps:
    - uses: actions/setup-node@v4
    - name: Install \${{ inputs.version }}
      id: inner
      shell: bash
      run: |
        echo "FROM_ACTION=\${{ inputs.flavour }}-\${{ inputs.version }}" >> "$GITHUB_ENV"
        echo "answer=42" >> "$GITHUB_OUTPUT"
        test -f "$GITHUB_ACTION_PATH/action.yml"
    - if: inputs.extra == 'true'
      shell: bash
      run: exit 1
`,
      },
    );
    const result = await run(file, { standIns: { 'actions/setup-node': noEffect } });
    expect(result.failure).toBeUndefined();
    expect(result.steps[0]).toEqual(
      expect.objectContaining({ kind: 'composite', outputs: { answer: '42' }, outcome: 'success' }),
    );
    expect(result.steps[0].steps?.map((s) => [s.name, s.outcome])).toEqual([
      ['actions/setup-node@v4', 'success'],
      ['Install 1.2', 'success'],
      ['exit 1', 'skipped'],
    ]);
    expect(result.log).toContain('out=42');
  });

  it('calls stand-ins by the longest uses: prefix, with evaluated inputs, and stand-ins for named run steps', async () => {
    const file = await workflow(`
jobs:
  main:
    steps:
      - uses: nrwl/nx-set-shas@v4
        with: { main-branch-name: "\${{ github.ref_name }}" }
      - uses: github/codeql-action/upload-sarif@v3
        with: { sarif_file: dist/scan.sarif }
      - uses: actions/upload-artifact@v4
        with: { path: dist/report.json }
      - run: npm ci --no-audit
      - run: echo "base=$NX_BASE head=$NX_HEAD"
`);
    const seen: string[] = [];
    const result = await run(file, {
      standIns: {
        'nrwl/nx-set-shas': async (step, ctx) => {
          seen.push(`${step.uses} ${ctx.with['main-branch-name']}`);
          await nxSetShas({ base: 'b0', head: 'h1' })(step, ctx);
        },
        'github/codeql-action': async () => void seen.push('wrong prefix'),
        'github/codeql-action/upload-sarif': recordUpload('sarif', 'sarif_file'),
        'actions/upload-artifact': recordUpload('artifact', 'path'),
      },
      runStandIns: { 'npm ci': async () => void seen.push('npm ci stood in') },
    });
    expect(result.failure).toBeUndefined();
    expect(seen).toEqual(['nrwl/nx-set-shas@v4 main', 'npm ci stood in']);
    expect(result.recorded).toEqual([
      { kind: 'sarif', path: 'dist/scan.sarif' },
      { kind: 'artifact', path: 'dist/report.json' },
    ]);
    expect(result.steps.map((s) => s.kind)).toEqual(['uses', 'uses', 'uses', 'stood-in', 'run']);
    expect(result.log).toContain('base=b0 head=h1');
  });

  it('hashFiles() hashes the matched workspace files as the runner does, and is empty when nothing matches', async () => {
    const file = await workflow(
      `
jobs:
  main:
    steps:
      - run: |
          echo "one=\${{ hashFiles('tools/list.txt') }}"
          echo "glob=\${{ hashFiles('tools/**/*.txt', '!tools/skip/**') }}"
          echo "none=[\${{ hashFiles('missing/*.lock') }}]"
`,
      { 'tools/list.txt': 'trivy v1\n', 'tools/more/b.txt': 'b\n', 'tools/skip/c.txt': 'c\n' },
    );
    const sha = (data: string | Buffer) => createHash('sha256').update(data).digest();
    const of = (...texts: string[]) => texts.reduce((outer, text) => outer.update(sha(text)), createHash('sha256')).digest('hex');
    const result = await run(file);
    expect(result.failure).toBeUndefined();
    expect(result.log).toContain(`one=${of('trivy v1\n')}`);
    // Sorted paths: tools/list.txt, tools/more/b.txt; tools/skip is excluded.
    expect(result.log).toContain(`glob=${of('trivy v1\n', 'b\n')}`);
    expect(result.log).toContain('none=[]');
  });

  it('names the workflow that runs: github.workflow_ref and GITHUB_WORKFLOW_REF, as keyless certificates and provenance read them', async () => {
    const file = await workflow(`
jobs:
  main:
    steps:
      - run: |
          test "$GITHUB_WORKFLOW_REF" = "auren/auren/.github/workflows/w.yml@refs/heads/main"
          test "\${{ github.workflow_ref }}" = "$GITHUB_WORKFLOW_REF"
          test "$GITHUB_WORKFLOW_SHA" = "${event.sha}"
          test "\${{ github.server_url }}/\${{ github.repository }}" = https://github.com/auren/auren
`);
    const result = await run(file);
    expect(result.failure).toBeUndefined();
  });

  it('a stand-in that throws fails its step like a failing action', async () => {
    const file = await workflow(`
jobs:
  main:
    steps:
      - uses: docker/login-action@v3
      - run: echo after
`);
    const result = await run(file, { standIns: { 'docker/login-action': async () => Promise.reject(new Error('401')) } });
    expect(result.result).toBe('failure');
    expect(result.failure).toMatch(/stand-in for docker\/login-action@v3 failed: 401/);
    expect(result.steps[1].outcome).toBe('skipped');
  });

  it('fails before running anything on an unknown uses:, also inside a composite action', async () => {
    const file = await workflow(
      `
jobs:
  main:
    steps:
      - run: touch ran
      - uses: ./.github/actions/a
`,
      { '.github/actions/a/action.yml': 'runs:\n  using: composite\n  steps:\n    - uses: some/action@v1\n' },
    );
    const attempt = run(file);
    await expect(attempt).rejects.toThrow(WorkflowRunnerError);
    await expect(run(file)).rejects.toThrow(/no stand-in for uses: some\/action@v1. Pass standIns\['some\/action'\]/);
    await expect(readFile(join(dir, 'ran'))).rejects.toThrow(/ENOENT/);
  });

  it('fails before running anything on an expression it cannot evaluate, naming the step', async () => {
    const file = await workflow(`
jobs:
  main:
    steps:
      - run: touch ran
      - name: cache
        run: echo \${{ lookup('package-lock.json') }}
`);
    await expect(run(file)).rejects.toThrow(/unsupported function lookup\(\) \(in job main step 2 \(cache\)\)/);
    await expect(readFile(join(dir, 'ran'))).rejects.toThrow(/ENOENT/);
  });

  it('lists matrix combinations from needs outputs, and decides a job\'s if: before its matrix', async () => {
    const file = await workflow(`
jobs:
  main:
    needs: plan
    if: needs.plan.outputs.apps != '[]'
    strategy:
      matrix:
        project: \${{ fromJSON(needs.plan.outputs.apps) }}
        arch: [amd64, arm64]
    steps:
      - run: echo "\${{ matrix.project }}/\${{ matrix.arch }}"
`);
    const with2 = { workflowFile: file, job: 'main', cwd: dir, event, needs: { plan: { result: 'success' as const, outputs: { apps: '["a","b"]' } } } };
    expect(await jobCondition(with2)).toBe(true);
    expect(await matrixCombinations(with2)).toEqual([
      { project: 'a', arch: 'amd64' },
      { project: 'a', arch: 'arm64' },
      { project: 'b', arch: 'amd64' },
      { project: 'b', arch: 'arm64' },
    ]);
    const none = { ...with2, needs: { plan: { result: 'success' as const, outputs: { apps: '[]' } } } };
    expect(await jobCondition(none)).toBe(false);
    await expect(matrixCombinations(none)).rejects.toThrow(/matrix project has no values/);
    expect((await run(file, { needs: none.needs })).result).toBe('skipped');
  });

  it('asks for one matrix combination and evaluates matrix in names and scripts', async () => {
    const file = await workflow(`
jobs:
  main:
    strategy: { matrix: { project: "\${{ fromJSON('[\\"a\\"]') }}" } }
    steps:
      - name: Release \${{ matrix.project }}
        run: echo "project=\${{ matrix.project }}"
`);
    await expect(run(file)).rejects.toThrow(/has a matrix. Pass one combination/);
    const result = await run(file, { matrix: { project: 'a' } });
    expect(result.steps[0].name).toBe('Release a');
    expect(result.log).toContain('project=a');
  });
});
