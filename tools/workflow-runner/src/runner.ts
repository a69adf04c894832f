/**
 * Runs one job of a GitHub Actions workflow on this machine, the way the hosted runner would:
 * steps in order, `if:` conditions, `${{ }}` expressions, `bash -e {0}` run steps, the
 * GITHUB_ENV / GITHUB_OUTPUT / GITHUB_PATH / GITHUB_STEP_SUMMARY files, and local composite
 * actions expanded into their steps. Remote `uses:` steps cannot run here (no GitHub, no Docker
 * engine), so each one is replaced by a stand-in that reproduces its documented effect; a `uses:`
 * without a stand-in fails before any step runs, and so does an expression this evaluator does not
 * understand — a test that silently skipped a step would prove nothing.
 *
 * Not modelled: `services:`, `container:`, `timeout-minutes`, object filters (`*`),
 * and Docker or JavaScript actions (only their stand-ins run).
 *
 * Expression semantics follow https://docs.github.com/en/actions/learn-github-actions/expressions:
 * loose equality with number coercion, case-insensitive string comparison, `&&`/`||` returning
 * an operand, and `if:` implicitly `success() && (…)` unless it calls a status function.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, relative, resolve, sep } from 'node:path';
import execa from 'execa';
import { parse as parseYaml } from 'yaml';
import { ExpressionError, WorkflowRunnerError } from './errors';
import {
  checkTemplates,
  conditionSource,
  evaluateCondition,
  evaluateTemplate,
  interpolate,
  isObject,
  parseExpression,
  stringify,
  truthy,
  type ExprValue,
  type ExpressionContext,
} from './expressions';
import { parseFileCommands } from './file-commands';

export interface WorkflowStep {
  id?: string;
  name?: string;
  if?: unknown;
  uses?: string;
  run?: string;
  shell?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  'working-directory'?: string;
  'continue-on-error'?: unknown;
}

export interface WorkflowEvent {
  name: string;
  ref: string;
  sha: string;
  before?: string;
  /** Extra fields of the event payload (`github.event.*`). */
  payload?: Record<string, ExprValue>;
}

export type JobResult = 'success' | 'failure' | 'skipped';

export interface NeedsResult {
  result: JobResult;
  outputs: Record<string, string>;
}

/** What a stand-in may do: the same effects a real action has on the job. */
export interface StandInContext {
  /** The step's `with:` inputs, evaluated. */
  with: Record<string, string>;
  /** The environment the step would see. */
  env: NodeJS.ProcessEnv;
  /** The workspace (GITHUB_WORKSPACE). */
  cwd: string;
  event: WorkflowEvent;
  setEnv(name: string, value: string): void;
  addPath(dir: string): void;
  setOutput(name: string, value: string): void;
  appendSummary(markdown: string): void;
  /** Note what the action would have sent to GitHub (an artifact's name, a SARIF file), with details such as its category. */
  record(kind: string, path: string, detail?: Record<string, string>): void;
  log(line: string): void;
}

export interface RecordedUpload {
  kind: string;
  path: string;
  detail?: Record<string, string>;
}

export type StandIn = (step: WorkflowStep, ctx: StandInContext) => Promise<void>;

export interface RunWorkflowJobOptions {
  /** Path of the workflow file, absolute or relative to cwd. */
  workflowFile: string;
  job: string;
  /** The checkout (GITHUB_WORKSPACE). */
  cwd: string;
  /** The runner machine's environment (default process.env). */
  env?: NodeJS.ProcessEnv;
  event: WorkflowEvent;
  vars?: Record<string, string>;
  secrets?: Record<string, string>;
  /** Results of the jobs this one needs, from earlier runWorkflowJob calls. */
  needs?: Record<string, NeedsResult>;
  /** One combination of the job's matrix, required when the job has one. */
  matrix?: Record<string, ExprValue>;
  /** workflow_dispatch / workflow_call inputs. */
  inputs?: Record<string, ExprValue>;
  /** Remote actions by prefix of `uses:` ('actions/checkout' matches 'actions/checkout@v4'); the longest prefix wins. */
  standIns: Record<string, StandIn>;
  /**
   * `run:` steps that cannot run on this machine, by prefix of their name (or first line of `run`),
   * replaced like actions are. Each use shows in the step list as `stood-in`.
   */
  runStandIns?: Record<string, StandIn>;
  /** RUNNER_TEMP and the file-command files (default: a new temporary folder, removed afterwards). */
  runnerTemp?: string;
  /** Also write the job summary here (what GitHub renders on the run page). */
  summaryFile?: string;
  /** Every output line of the job, as it happens. */
  log?: (line: string) => void;
}

export interface StepRun {
  name: string;
  id?: string;
  kind: 'run' | 'uses' | 'stood-in' | 'composite';
  outcome: 'success' | 'failure' | 'skipped';
  conclusion: 'success' | 'failure' | 'skipped';
  outputs: Record<string, string>;
  /** For a failed step: exit code and the end of its output, or the stand-in's error. */
  error?: string;
  /** For a run step that ran: its script, expressions evaluated (what a test asserts was run). */
  script?: string;
  /** Steps of a composite action. */
  steps?: StepRun[];
}

export interface JobRun {
  job: string;
  result: JobResult;
  outputs: Record<string, string>;
  steps: StepRun[];
  /** The job's GITHUB_STEP_SUMMARY, all steps together. */
  summary: string;
  /** `::error::` / `::warning::` / `::notice::` lines. */
  annotations: string[];
  recorded: RecordedUpload[];
  /** Full output of the job. */
  log: string;
  /** The first failed step with its error, for a test's failure message. */
  failure?: string;
}

interface JobState {
  options: RunWorkflowJobOptions;
  runnerTemp: string;
  baseEnv: NodeJS.ProcessEnv;
  /** Values written to GITHUB_ENV so far. */
  exported: Record<string, string>;
  paths: string[];
  summary: string[];
  annotations: string[];
  recorded: RecordedUpload[];
  log: string[];
  github: Record<string, ExprValue>;
}

/** Where steps run: the job itself, or a composite action inside it. */
interface Scope {
  contexts: Record<string, ExprValue>;
  /** The `env` context before this scope's steps: workflow + job env, or the calling step's env. */
  env: Record<string, string>;
  actionPath?: string;
  /** A composite action's run steps must name their shell. */
  composite: boolean;
  defaultsRun: { shell?: string; 'working-directory'?: string };
}

interface ActionFile {
  name?: string;
  inputs?: Record<string, { default?: unknown; required?: boolean }>;
  outputs?: Record<string, { value?: unknown }>;
  runs: { using: string; steps?: WorkflowStep[] };
}

function readYaml<T>(text: string, file: string): T {
  try {
    return parseYaml(text) as T;
  } catch (error) {
    throw new WorkflowRunnerError(`${file} is not valid YAML: ${(error as Error).message}`, 'Fix the file; GitHub would reject it too');
  }
}

function matchStandIn(table: Record<string, StandIn>, key: string, separators: string[]): StandIn | undefined {
  const match = Object.keys(table)
    .filter((prefix) => key === prefix || separators.some((sep) => key.startsWith(prefix + sep)) || (separators.length === 0 && key.startsWith(prefix)))
    .sort((a, b) => b.length - a.length)[0];
  return match === undefined ? undefined : table[match];
}

const actionStandIn = (standIns: Record<string, StandIn>, uses: string) => matchStandIn(standIns, uses, ['@', '/']);

function stepLabel(step: WorkflowStep): string {
  if (step.name) return String(step.name);
  if (step.run) return String(step.run).trim().split('\n')[0];
  return String(step.uses ?? 'step');
}

const isLocalAction = (uses: string) => uses.startsWith('./');

async function readAction(cwd: string, uses: string): Promise<{ dir: string; action: ActionFile }> {
  const dir = resolve(cwd, uses);
  const file = ['action.yml', 'action.yaml'].map((name) => join(dir, name)).find((path) => existsSync(path));
  if (!file) throw new WorkflowRunnerError(`no action.yml in ${uses}`, 'Local actions are read from the checkout; check the path');
  const action = readYaml<ActionFile>(await readFile(file, 'utf8'), file);
  if (action?.runs?.using !== 'composite') {
    throw new WorkflowRunnerError(`${uses} is a "${action?.runs?.using}" action`, 'Only composite local actions run here; give it a stand-in instead');
  }
  return { dir, action };
}

/** Before anything runs: every action has a stand-in or is a readable composite, every expression parses. */
async function preflight(steps: WorkflowStep[], options: RunWorkflowJobOptions, where: string, seen = new Set<string>()): Promise<void> {
  for (const [index, step] of steps.entries()) {
    const at = `${where} step ${index + 1} (${stepLabel(step)})`;
    if (!step.run === !step.uses) throw new WorkflowRunnerError(`${at} has ${step.run ? 'both run and uses' : 'neither run nor uses'}`, 'Give a step exactly one');
    try {
      checkTemplates(step);
      if (step.if !== undefined) {
        const source = conditionSource(step.if);
        if (source) parseExpression(source);
      }
    } catch (error) {
      if (error instanceof ExpressionError) throw new ExpressionError(error.expression, `${error.reason} (in ${at})`);
      throw error;
    }
    if (!step.uses) continue;
    if (isLocalAction(step.uses)) {
      if (seen.has(step.uses)) continue;
      seen.add(step.uses);
      const { action } = await readAction(options.cwd, step.uses);
      checkTemplates(action.outputs ?? {});
      await preflight(action.runs.steps ?? [], options, `${step.uses}`, seen);
    } else if (!actionStandIn(options.standIns, step.uses)) {
      throw new WorkflowRunnerError(
        `${at}: no stand-in for uses: ${step.uses}`,
        `Pass standIns['${step.uses.split('@')[0]}'] reproducing the action's documented effect (remote actions cannot run here)`,
      );
    }
  }
}

function envRecord(value: unknown, ctx: ExpressionContext): Record<string, string> {
  const out: Record<string, string> = {};
  if (!value) return out;
  if (typeof value !== 'object') throw new WorkflowRunnerError(`env must be a mapping, got ${JSON.stringify(value)}`, 'Write env: as name: value pairs');
  for (const [name, raw] of Object.entries(value)) out[name] = interpolate(raw, ctx);
  return out;
}

function processEnv(state: JobState, env: Record<string, string>, extra: Record<string, string>): NodeJS.ProcessEnv {
  const full: NodeJS.ProcessEnv = { ...state.baseEnv, ...env, ...extra };
  if (state.paths.length) full.PATH = [...state.paths, full.PATH ?? ''].join(delimiter);
  return full;
}

/** bash without `shell:` is `bash -e {0}`; `shell: bash` adds pipefail (docs: "default shell"). */
function shellCommand(shell: string | undefined, script: string): { file: string; args: string[] } {
  switch (shell) {
    case undefined:
      return { file: 'bash', args: ['-e', script] };
    case 'bash':
      return { file: 'bash', args: ['--noprofile', '--norc', '-eo', 'pipefail', script] };
    case 'sh':
      return { file: 'sh', args: ['-e', script] };
    case 'python':
      return { file: 'python3', args: [script] };
    default: {
      if (!shell.includes('{0}')) throw new WorkflowRunnerError(`unsupported shell "${shell}"`, 'Use bash, sh, python or a command with {0}');
      const [file, ...args] = shell.split(/\s+/).map((part) => part.replace('{0}', script));
      return { file, args };
    }
  }
}

async function runScript(
  state: JobState,
  script: string,
  shell: string | undefined,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ exitCode: number; tail: string }> {
  const file = join(state.runnerTemp, `${randomUUID()}.sh`);
  await writeFile(file, script);
  const { file: command, args } = shellCommand(shell, file);
  const child = execa(command, args, { cwd, env, extendEnv: false, reject: false, all: true, stdin: 'ignore' });
  const tail: string[] = [];
  let buffered = '';
  const onLine = (line: string) => {
    state.log.push(line);
    state.options.log?.(line);
    tail.push(line);
    if (tail.length > 40) tail.shift();
    if (/^::(error|warning|notice)\b/.test(line)) state.annotations.push(line);
  };
  child.all?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  const result = await child;
  if (buffered) onLine(buffered);
  return { exitCode: result.exitCode, tail: tail.join('\n') };
}

/** Runs steps in order; returns whether any failed (after continue-on-error). */
async function runSteps(state: JobState, steps: WorkflowStep[], scope: Scope, parentFailed: boolean, runs: StepRun[]): Promise<boolean> {
  let failed = parentFailed;
  const stepsContext = scope.contexts.steps as Record<string, ExprValue>;
  for (const step of steps) {
    const envContext: Record<string, string> = { ...scope.env, ...state.exported };
    const ctx: ExpressionContext = { contexts: { ...scope.contexts, env: envContext, github: state.github }, failed };
    const name = step.name !== undefined ? interpolate(step.name, ctx) : stepLabel(step);
    const record: StepRun = { name, id: step.id, kind: step.uses ? 'uses' : 'run', outcome: 'skipped', conclusion: 'skipped', outputs: {} };
    runs.push(record);
    const logHeader = (text: string) => {
      state.log.push(text);
      state.options.log?.(text);
    };
    if (!evaluateCondition(step.if, ctx)) {
      logHeader(`─ skipped: ${name}`);
      if (step.id) stepsContext[step.id] = { outputs: {}, outcome: 'skipped', conclusion: 'skipped' };
      continue;
    }
    logHeader(`▶ ${name}`);
    const stepEnv = envRecord(step.env, ctx);
    const fullEnvContext = { ...envContext, ...stepEnv };
    const stepCtx: ExpressionContext = { ...ctx, contexts: { ...ctx.contexts, env: fullEnvContext } };
    const commandDir = join(state.runnerTemp, '_runner_file_commands', randomUUID());
    await mkdir(commandDir, { recursive: true });
    const files = {
      GITHUB_ENV: join(commandDir, 'env'),
      GITHUB_OUTPUT: join(commandDir, 'output'),
      GITHUB_PATH: join(commandDir, 'path'),
      GITHUB_STEP_SUMMARY: join(commandDir, 'summary'),
      GITHUB_STATE: join(commandDir, 'state'),
    };
    for (const file of Object.values(files)) await writeFile(file, '');
    const extra: Record<string, string> = { ...files, ...(scope.actionPath ? { GITHUB_ACTION_PATH: scope.actionPath } : {}) };
    let ok = true;
    let error: string | undefined;

    const runStandIn = step.run ? matchStandIn(state.options.runStandIns ?? {}, name, []) : undefined;
    if (step.uses || runStandIn) {
      const uses = step.uses ?? '';
      const withInputs: Record<string, string> = {};
      for (const [key, value] of Object.entries(step.with ?? {})) withInputs[key] = interpolate(value, stepCtx);
      if (isLocalAction(uses)) {
        record.kind = 'composite';
        record.steps = [];
        const { dir, action } = await readAction(state.options.cwd, uses);
        const inputs: Record<string, ExprValue> = {};
        for (const [key, spec] of Object.entries(action.inputs ?? {})) {
          inputs[key] = key in withInputs ? withInputs[key] : spec?.default === undefined ? '' : interpolate(spec.default, stepCtx);
          if (spec?.required && inputs[key] === '') throw new WorkflowRunnerError(`${uses}: input ${key} is required`, `Pass it with with: ${key}: …`);
        }
        for (const key of Object.keys(withInputs)) if (!(key in inputs)) inputs[key] = withInputs[key];
        const inner: Scope = {
          contexts: { ...scope.contexts, inputs, steps: {} },
          env: fullEnvContext,
          actionPath: dir,
          composite: true,
          defaultsRun: {},
        };
        const innerFailed = await runSteps(state, action.runs.steps ?? [], inner, false, record.steps);
        ok = !innerFailed;
        if (!ok) error = record.steps.find((s) => s.outcome === 'failure')?.error;
        const outCtx: ExpressionContext = { contexts: { ...inner.contexts, env: { ...fullEnvContext, ...state.exported }, github: state.github } };
        for (const [key, spec] of Object.entries(action.outputs ?? {})) record.outputs[key] = interpolate(spec?.value, outCtx);
      } else {
        record.kind = step.uses ? 'uses' : 'stood-in';
        const standIn = step.uses ? actionStandIn(state.options.standIns, uses)! : runStandIn!;
        const stepOutputs: Record<string, string> = {};
        try {
          await standIn(step, {
            with: withInputs,
            env: processEnv(state, fullEnvContext, extra),
            cwd: state.options.cwd,
            event: state.options.event,
            setEnv: (key, value) => void (state.exported[key] = value),
            addPath: (dir) => void state.paths.unshift(dir),
            setOutput: (key, value) => void (stepOutputs[key] = value),
            appendSummary: (markdown) => void state.summary.push(markdown),
            record: (kind, path, detail) => void state.recorded.push({ kind, path, ...(detail ? { detail } : {}) }),
            log: (line) => logHeader(`  ${line}`),
          });
        } catch (err) {
          ok = false;
          error = `stand-in for ${uses || name} failed: ${err instanceof Error ? err.message : String(err)}`;
        }
        record.outputs = stepOutputs;
      }
    } else {
      const shell = step.shell !== undefined ? interpolate(step.shell, stepCtx) : scope.defaultsRun.shell;
      if (scope.composite && !shell) throw new WorkflowRunnerError(`${scope.actionPath}: run step "${name}" has no shell`, 'Composite action run steps must set shell: (GitHub rejects them otherwise)');
      const workdir = step['working-directory'] ?? scope.defaultsRun['working-directory'];
      const cwd = workdir ? resolve(state.options.cwd, interpolate(workdir, stepCtx)) : state.options.cwd;
      const script = interpolate(step.run, stepCtx);
      record.script = script;
      const result = await runScript(state, script, shell, cwd, processEnv(state, fullEnvContext, extra));
      ok = result.exitCode === 0;
      if (!ok) error = `"${name}" exited with code ${result.exitCode}:\n${result.tail}`;
    }

    // File commands take effect even when the step failed, as on the runner.
    for (const [key, value] of parseFileCommands(await readFile(files.GITHUB_ENV, 'utf8'), 'GITHUB_ENV')) state.exported[key] = value;
    for (const [key, value] of parseFileCommands(await readFile(files.GITHUB_OUTPUT, 'utf8'), 'GITHUB_OUTPUT')) record.outputs[key] = value;
    for (const dir of (await readFile(files.GITHUB_PATH, 'utf8')).split('\n').filter(Boolean)) state.paths.unshift(dir);
    const summary = await readFile(files.GITHUB_STEP_SUMMARY, 'utf8');
    if (summary) state.summary.push(summary);
    await rm(commandDir, { recursive: true, force: true });

    const continueOnError = truthy(evaluateTemplate(step['continue-on-error'] ?? false, stepCtx));
    record.outcome = ok ? 'success' : 'failure';
    record.conclusion = ok || continueOnError ? 'success' : 'failure';
    record.error = error;
    if (!ok) logHeader(`✖ ${name}: ${error?.split('\n')[0]}`);
    if (record.conclusion === 'failure') failed = true;
    if (step.id) stepsContext[step.id] = { outputs: record.outputs, outcome: record.outcome, conclusion: record.conclusion };
  }
  return failed;
}

function githubContext(options: RunWorkflowJobOptions, runnerTemp: string, workflowName: string): Record<string, ExprValue> {
  const { event } = options;
  const refName = event.ref.replace(/^refs\/(heads|tags)\//, '');
  const repository = 'auren/auren';
  // `<owner>/<repo>/<path of the workflow file>@<ref>`: what keyless certificates and build
  // provenance name as the workflow that ran.
  const workflowPath = options.workflowFile ? relative(options.cwd, isAbsolute(options.workflowFile) ? options.workflowFile : join(options.cwd, options.workflowFile)) : '';
  return {
    workflow_ref: workflowPath ? `${repository}/${workflowPath.split(sep).join('/')}@${event.ref}` : '',
    workflow_sha: event.sha,
    event_name: event.name,
    ref: event.ref,
    ref_name: refName,
    ref_type: event.ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    sha: event.sha,
    base_ref: '',
    head_ref: '',
    event: { ...(event.before ? { before: event.before, after: event.sha } : {}), ref: event.ref, ...(event.payload ?? {}) },
    workspace: options.cwd,
    job: options.job,
    workflow: workflowName,
    repository,
    repository_owner: repository.split('/')[0],
    server_url: 'https://github.com',
    api_url: 'https://api.github.com',
    run_id: '1',
    run_number: '1',
    run_attempt: '1',
    actor: 'auren-ci',
    token: '',
    action_path: '',
    runner_temp: runnerTemp,
  };
}

/** The runner's own variables (https://docs.github.com/en/actions/reference/variables-reference). */
function defaultEnv(github: Record<string, ExprValue>, runnerTemp: string, eventPath: string): Record<string, string> {
  const s = (key: string) => stringify(github[key]);
  return {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: s('workspace'),
    GITHUB_EVENT_NAME: s('event_name'),
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_REF: s('ref'),
    GITHUB_REF_NAME: s('ref_name'),
    GITHUB_REF_TYPE: s('ref_type'),
    GITHUB_SHA: s('sha'),
    GITHUB_BASE_REF: '',
    GITHUB_HEAD_REF: '',
    GITHUB_JOB: s('job'),
    GITHUB_WORKFLOW: s('workflow'),
    GITHUB_WORKFLOW_REF: s('workflow_ref'),
    GITHUB_WORKFLOW_SHA: s('workflow_sha'),
    GITHUB_REPOSITORY: s('repository'),
    GITHUB_REPOSITORY_OWNER: s('repository_owner'),
    GITHUB_SERVER_URL: s('server_url'),
    GITHUB_API_URL: s('api_url'),
    GITHUB_RUN_ID: s('run_id'),
    GITHUB_RUN_NUMBER: s('run_number'),
    GITHUB_RUN_ATTEMPT: s('run_attempt'),
    GITHUB_ACTOR: s('actor'),
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_NAME: 'auren-local',
    RUNNER_TEMP: runnerTemp,
    RUNNER_TOOL_CACHE: join(runnerTemp, '_tool'),
  };
}

export async function runWorkflowJob(options: RunWorkflowJobOptions): Promise<JobRun> {
  const workflowPath = isAbsolute(options.workflowFile) ? options.workflowFile : join(options.cwd, options.workflowFile);
  const workflow = readYaml<{
    name?: string;
    env?: Record<string, unknown>;
    defaults?: { run?: Scope['defaultsRun'] };
    jobs?: Record<string, Record<string, unknown>>;
  }>(await readFile(workflowPath, 'utf8'), workflowPath);
  const job = workflow?.jobs?.[options.job];
  if (!job) throw new WorkflowRunnerError(`${options.workflowFile} has no job "${options.job}"`, `Jobs: ${Object.keys(workflow?.jobs ?? {}).join(', ')}`);
  for (const unsupported of ['services', 'container', 'uses']) {
    if (job[unsupported] !== undefined) throw new WorkflowRunnerError(`job ${options.job} uses ${unsupported}:`, 'This runner runs steps only');
  }
  const needed = job.needs === undefined ? [] : Array.isArray(job.needs) ? (job.needs as string[]) : [String(job.needs)];
  const needs: Record<string, ExprValue> = {};
  for (const name of needed) {
    const result = options.needs?.[name];
    if (!result) throw new WorkflowRunnerError(`job ${options.job} needs ${name}`, `Run ${name} first and pass its result as needs.${name}`);
    needs[name] = { result: result.result, outputs: result.outputs };
  }

  const ownTemp = !options.runnerTemp;
  const runnerTemp = options.runnerTemp ?? (await mkdtemp(join(tmpdir(), 'auren-runner-')));
  await mkdir(runnerTemp, { recursive: true });
  const github = githubContext(options, runnerTemp, workflow.name ?? options.workflowFile);
  const eventPath = join(runnerTemp, 'event.json');
  await writeFile(eventPath, JSON.stringify(github.event, null, 2));

  const state: JobState = {
    options,
    runnerTemp,
    baseEnv: { ...(options.env ?? process.env), ...defaultEnv(github, runnerTemp, eventPath) },
    exported: {},
    paths: [],
    summary: [],
    annotations: [],
    recorded: [],
    log: [],
    github,
  };
  const base: Record<string, ExprValue> = {
    github,
    vars: { ...(options.vars ?? {}) },
    secrets: { GITHUB_TOKEN: '', ...(options.secrets ?? {}) },
    inputs: { ...(options.inputs ?? {}) },
    needs,
    matrix: options.matrix ?? {},
    strategy: { 'fail-fast': true, 'job-index': 0, 'job-total': 1, 'max-parallel': 1 },
    runner: { os: 'Linux', arch: 'X64', name: 'auren-local', temp: runnerTemp, tool_cache: join(runnerTemp, '_tool') },
    job: { status: 'success' },
  };

  try {
    const needsFailed = Object.values(needs).some((n) => isObject(n) && n.result !== 'success');
    const jobIf: ExpressionContext = { contexts: { ...base, env: {} }, failed: needsFailed };
    const steps = (job.steps ?? []) as WorkflowStep[];
    if (!evaluateCondition(job.if, jobIf)) {
      return { job: options.job, result: 'skipped', outputs: {}, steps: [], summary: '', annotations: [], recorded: [], log: '' };
    }
    // GitHub decides a job's if: before it expands the matrix (which may be empty then).
    const matrixSpec = (job.strategy as { matrix?: unknown } | undefined)?.matrix;
    if (matrixSpec !== undefined && !options.matrix) {
      throw new WorkflowRunnerError(`job ${options.job} has a matrix`, 'Pass one combination as matrix (see matrixCombinations) and run the job once per combination');
    }
    await preflight(steps, options, `job ${options.job}`);

    const workflowEnv = envRecord(workflow.env, { contexts: { ...base, env: {} } });
    const jobEnv = envRecord(job.env, { contexts: { ...base, env: workflowEnv } });
    const defaultsRun = { ...(workflow.defaults?.run ?? {}), ...((job.defaults as { run?: Scope['defaultsRun'] } | undefined)?.run ?? {}) };
    const stepsContext: Record<string, ExprValue> = {};
    const scope: Scope = { contexts: { ...base, steps: stepsContext }, env: { ...workflowEnv, ...jobEnv }, composite: false, defaultsRun };
    const runs: StepRun[] = [];
    const failed = await runSteps(state, steps, scope, false, runs);

    const outputs: Record<string, string> = {};
    const outCtx: ExpressionContext = { contexts: { ...scope.contexts, env: { ...scope.env, ...state.exported } } };
    for (const [key, value] of Object.entries((job.outputs ?? {}) as Record<string, unknown>)) outputs[key] = interpolate(value, outCtx);
    const summary = state.summary.join('\n');
    if (options.summaryFile) await appendFile(options.summaryFile, summary);
    const failedStep = runs.find((s) => s.conclusion === 'failure');
    return {
      job: options.job,
      result: failed ? 'failure' : 'success',
      outputs,
      steps: runs,
      summary,
      annotations: state.annotations,
      recorded: state.recorded,
      log: state.log.join('\n'),
      failure: failedStep ? `${options.job}: step "${failedStep.name}" failed: ${failedStep.error ?? ''}` : undefined,
    };
  } finally {
    if (ownTemp) await rm(runnerTemp, { recursive: true, force: true });
  }
}

/** Whether the job's `if:` lets it run, given the results of the jobs it needs. */
export async function jobCondition(
  options: Pick<RunWorkflowJobOptions, 'workflowFile' | 'job' | 'cwd' | 'event' | 'vars' | 'needs' | 'inputs'>,
): Promise<boolean> {
  const workflowPath = isAbsolute(options.workflowFile) ? options.workflowFile : join(options.cwd, options.workflowFile);
  const workflow = readYaml<{ jobs?: Record<string, { if?: unknown }> }>(await readFile(workflowPath, 'utf8'), workflowPath);
  const job = workflow?.jobs?.[options.job];
  if (!job) throw new WorkflowRunnerError(`${options.workflowFile} has no job "${options.job}"`, `Jobs: ${Object.keys(workflow?.jobs ?? {}).join(', ')}`);
  return evaluateCondition(job.if, jobIfContext(options));
}

function jobIfContext(options: Pick<RunWorkflowJobOptions, 'job' | 'cwd' | 'event' | 'vars' | 'needs' | 'inputs'>): ExpressionContext {
  const needs: Record<string, ExprValue> = {};
  for (const [name, result] of Object.entries(options.needs ?? {})) needs[name] = { result: result.result, outputs: result.outputs };
  return {
    contexts: {
      github: githubContext({ ...options, workflowFile: '', standIns: {} }, '', ''),
      vars: { ...(options.vars ?? {}) },
      needs,
      inputs: { ...(options.inputs ?? {}) },
      env: {},
    },
    failed: Object.values(options.needs ?? {}).some((n) => n.result !== 'success'),
  };
}

/**
 * The combinations of a job's `strategy.matrix` (the cartesian product of its dimensions), with
 * the same contexts a job's `if:` sees; `include`/`exclude` are not supported.
 */
export async function matrixCombinations(
  options: Pick<RunWorkflowJobOptions, 'workflowFile' | 'job' | 'cwd' | 'event' | 'vars' | 'needs' | 'inputs'>,
): Promise<Array<Record<string, ExprValue>>> {
  const workflowPath = isAbsolute(options.workflowFile) ? options.workflowFile : join(options.cwd, options.workflowFile);
  const workflow = readYaml<{ jobs?: Record<string, { strategy?: { matrix?: unknown } }> }>(await readFile(workflowPath, 'utf8'), workflowPath);
  const spec = workflow?.jobs?.[options.job]?.strategy?.matrix;
  if (spec === undefined) return [{}];
  const ctx = { contexts: jobIfContext(options).contexts };
  const matrix = evaluateTemplate(spec, ctx);
  if (!isObject(matrix)) throw new WorkflowRunnerError(`job ${options.job}: strategy.matrix is not a mapping`, 'Write the matrix as dimension: [values]');
  let combinations: Array<Record<string, ExprValue>> = [{}];
  for (const [dimension, raw] of Object.entries(matrix)) {
    if (dimension === 'include' || dimension === 'exclude') throw new WorkflowRunnerError(`job ${options.job}: matrix ${dimension} is not supported`, 'List the combinations yourself');
    const values = evaluateTemplate(raw, ctx);
    if (!Array.isArray(values) || values.length === 0) throw new WorkflowRunnerError(`job ${options.job}: matrix ${dimension} has no values`, 'GitHub fails such a job too');
    combinations = combinations.flatMap((combination) => values.map((value) => ({ ...combination, [dimension]: value })));
  }
  return combinations;
}
