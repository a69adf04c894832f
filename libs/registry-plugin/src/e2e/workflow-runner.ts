/**
 * Runs one job of a GitHub Actions workflow on this machine, the way the hosted runner would:
 * steps in order, `if:` conditions, `${{ }}` expressions, `bash -e {0}` run steps, the
 * GITHUB_ENV / GITHUB_OUTPUT / GITHUB_PATH / GITHUB_STEP_SUMMARY files, and local composite
 * actions expanded into their steps. Remote `uses:` steps cannot run here (no GitHub, no Docker
 * engine), so each one is replaced by a stand-in that reproduces its documented effect; a `uses:`
 * without a stand-in fails before any step runs, and so does an expression this evaluator does not
 * understand — a test that silently skipped a step would prove nothing.
 *
 * Not modelled: `services:`, `container:`, `timeout-minutes`, `hashFiles()`, object filters (`*`),
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
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import execa from 'execa';
import { parse as parseYaml } from 'yaml';

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** An expression the evaluator cannot parse or evaluate; names the expression and where it is. */
export class ExpressionError extends Error {
  constructor(
    readonly expression: string,
    readonly reason: string,
  ) {
    super(`cannot evaluate \${{ ${expression} }}: ${reason}`);
    this.name = 'ExpressionError';
  }
}

/** The workflow asks for something this runner cannot do (unknown action, missing `needs`, …). */
export class WorkflowRunnerError extends Error {
  constructor(message: string, readonly hint: string) {
    super(`${message}. ${hint}`);
    this.name = 'WorkflowRunnerError';
  }
}

// ---------------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------------

export type ExprValue = null | boolean | number | string | ExprValue[] | { [key: string]: ExprValue };

type Token =
  | { kind: 'num'; value: number }
  | { kind: 'str'; value: string }
  | { kind: 'ident'; value: string }
  | { kind: 'punct'; value: string };

type Node =
  | { type: 'literal'; value: ExprValue }
  | { type: 'context'; name: string }
  | { type: 'member'; object: Node; property: Node }
  | { type: 'call'; name: string; args: Node[] }
  | { type: 'not'; operand: Node }
  | { type: 'binary'; op: '==' | '!=' | '<' | '<=' | '>' | '>='; left: Node; right: Node }
  | { type: 'logical'; op: '&&' | '||'; left: Node; right: Node };

const CONTEXTS = new Set(['github', 'env', 'vars', 'secrets', 'steps', 'needs', 'matrix', 'inputs', 'runner', 'job', 'strategy']);
const STATUS_FUNCTIONS = new Set(['success', 'always', 'failure', 'cancelled']);
const PUNCT = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')', '[', ']', '.', ',', '*'];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (reason: string): never => {
    throw new ExpressionError(source, reason);
  };
  while (i < source.length) {
    const ch = source[i];
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= source.length) fail('unterminated string literal');
        if (source[i] === "'") {
          if (source[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += source[i++];
      }
      tokens.push({ kind: 'str', value });
    } else if (/[0-9]/.test(ch) || (ch === '-' && /[0-9.]/.test(source[i + 1] ?? '') && !isOperand(tokens[tokens.length - 1]))) {
      const match = /^-?(0x[0-9a-f]+|[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?)/i.exec(source.slice(i));
      if (!match) fail(`bad number at "${source.slice(i, i + 10)}"`);
      tokens.push({ kind: 'num', value: Number(match![0]) });
      i += match![0].length;
    } else if (/[A-Za-z_]/.test(ch)) {
      const match = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(source.slice(i))!;
      tokens.push({ kind: 'ident', value: match[0] });
      i += match[0].length;
    } else {
      const punct = PUNCT.find((p) => source.startsWith(p, i));
      if (!punct) fail(`unexpected character "${ch}"`);
      tokens.push({ kind: 'punct', value: punct! });
      i += punct!.length;
    }
  }
  return tokens;
}

function isOperand(token: Token | undefined): boolean {
  return !!token && (token.kind !== 'punct' || token.value === ')' || token.value === ']');
}

/** Precedence, loosest first: `||`, `&&`, `== !=`, `< <= > >=`, `!`, then `.`/`[]` and calls. */
export function parseExpression(source: string): Node {
  const tokens = tokenize(source);
  let pos = 0;
  const fail = (reason: string): never => {
    throw new ExpressionError(source, reason);
  };
  const peek = () => tokens[pos];
  const isPunct = (value: string) => peek()?.kind === 'punct' && peek()!.value === value;
  const expect = (value: string) => {
    if (!isPunct(value)) fail(`expected "${value}" at token ${pos + 1}`);
    pos++;
  };

  const or = (): Node => {
    let left = and();
    while (isPunct('||')) {
      pos++;
      left = { type: 'logical', op: '||', left, right: and() };
    }
    return left;
  };
  const and = (): Node => {
    let left = equality();
    while (isPunct('&&')) {
      pos++;
      left = { type: 'logical', op: '&&', left, right: equality() };
    }
    return left;
  };
  const equality = (): Node => {
    let left = comparison();
    while (isPunct('==') || isPunct('!=')) {
      const op = peek()!.value as '==' | '!=';
      pos++;
      left = { type: 'binary', op, left, right: comparison() };
    }
    return left;
  };
  const comparison = (): Node => {
    let left = unary();
    while (isPunct('<') || isPunct('<=') || isPunct('>') || isPunct('>=')) {
      const op = peek()!.value as '<' | '<=' | '>' | '>=';
      pos++;
      left = { type: 'binary', op, left, right: unary() };
    }
    return left;
  };
  const unary = (): Node => {
    if (isPunct('!')) {
      pos++;
      return { type: 'not', operand: unary() };
    }
    return postfix(primary());
  };
  const postfix = (node: Node): Node => {
    for (;;) {
      if (isPunct('.')) {
        pos++;
        const next = peek();
        if (next?.kind === 'punct' && next.value === '*') fail('object filters (.*) are not supported');
        if (next?.kind !== 'ident') fail('expected a property name after "."');
        pos++;
        node = { type: 'member', object: node, property: { type: 'literal', value: (next as { value: string }).value } };
      } else if (isPunct('[')) {
        pos++;
        if (isPunct('*')) fail('object filters ([*]) are not supported');
        const property = or();
        expect(']');
        node = { type: 'member', object: node, property };
      } else {
        return node;
      }
    }
  };
  const primary = (): Node => {
    const token = peek();
    if (!token) return fail('unexpected end of expression');
    pos++;
    if (token.kind === 'num' || token.kind === 'str') return { type: 'literal', value: token.value };
    if (token.kind === 'punct') {
      if (token.value === '(') {
        const inner = or();
        expect(')');
        return inner;
      }
      return fail(`unexpected "${token.value}"`);
    }
    const word = token.value;
    if (isPunct('(')) {
      pos++;
      const args: Node[] = [];
      if (!isPunct(')')) {
        args.push(or());
        while (isPunct(',')) {
          pos++;
          args.push(or());
        }
      }
      expect(')');
      const name = word.toLowerCase();
      if (!(name in FUNCTIONS) && !STATUS_FUNCTIONS.has(name)) fail(`unsupported function ${word}()`);
      return { type: 'call', name, args };
    }
    if (word === 'true' || word === 'false') return { type: 'literal', value: word === 'true' };
    if (word === 'null') return { type: 'literal', value: null };
    if (!CONTEXTS.has(word)) fail(`unknown context "${word}"`);
    return { type: 'context', name: word };
  };

  const node = or();
  if (pos < tokens.length) fail(`unexpected token after the expression at token ${pos + 1}`);
  return node;
}

export interface ExpressionContext {
  contexts: Partial<Record<string, ExprValue>>;
  /** Whether a previous step (or, for a job's `if:`, a needed job) failed. */
  failed?: boolean;
}

const isObject = (value: ExprValue): value is { [key: string]: ExprValue } =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

export function truthy(value: ExprValue | undefined): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'string') return value !== '';
  return true;
}

function toNumber(value: ExprValue): number {
  if (value === null) return 0;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return value.trim() === '' ? 0 : Number(value.trim());
  return Number.NaN;
}

function looseEquals(a: ExprValue, b: ExprValue): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  if (a === null || b === null || typeof a !== typeof b) {
    if ((a !== null && typeof a === 'object') || (b !== null && typeof b === 'object')) return false;
    if (a === null && b === null) return true;
    return toNumber(a) === toNumber(b);
  }
  return a === b;
}

function compare(op: '<' | '<=' | '>' | '>=', a: ExprValue, b: ExprValue): boolean {
  let x: number | string;
  let y: number | string;
  if (typeof a === 'string' && typeof b === 'string') {
    x = a.toLowerCase();
    y = b.toLowerCase();
  } else {
    x = toNumber(a);
    y = toNumber(b);
  }
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
  }
}

/** How a value reads when interpolated into a string. */
export function stringify(value: ExprValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, 2);
}

function member(object: ExprValue, key: ExprValue): ExprValue {
  if (Array.isArray(object)) {
    const index = toNumber(key);
    return Number.isInteger(index) && index >= 0 && index < object.length ? object[index] : null;
  }
  if (!isObject(object)) return null;
  const name = stringify(key);
  if (name in object) return object[name];
  // Property names are case-insensitive in expressions (`github.REF` is `github.ref`).
  const found = Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase());
  return found === undefined ? null : object[found];
}

type Fn = (args: ExprValue[], source: string) => ExprValue;

const FUNCTIONS: Record<string, Fn> = {
  contains: ([search, item]) =>
    Array.isArray(search) ? search.some((e) => looseEquals(e, item)) : stringify(search).toLowerCase().includes(stringify(item).toLowerCase()),
  startswith: ([text, prefix]) => stringify(text).toLowerCase().startsWith(stringify(prefix).toLowerCase()),
  endswith: ([text, suffix]) => stringify(text).toLowerCase().endsWith(stringify(suffix).toLowerCase()),
  format: ([template, ...rest], source) =>
    stringify(template).replace(/\{\{|\}\}|\{(\d+)\}/g, (match, index?: string) => {
      if (match === '{{') return '{';
      if (match === '}}') return '}';
      const i = Number(index);
      if (i >= rest.length) throw new ExpressionError(source, `format() has no argument {${i}}`);
      return stringify(rest[i]);
    }),
  join: ([array, separator]) => (Array.isArray(array) ? array.map(stringify).join(separator === undefined ? ',' : stringify(separator)) : stringify(array)),
  tojson: ([value]) => JSON.stringify(value ?? null, null, 2),
  fromjson: ([value], source) => {
    try {
      return JSON.parse(stringify(value)) as ExprValue;
    } catch (error) {
      throw new ExpressionError(source, `fromJSON() got invalid JSON ${JSON.stringify(stringify(value))}: ${(error as Error).message}`);
    }
  },
};

function evaluateNode(node: Node, ctx: ExpressionContext, source: string): ExprValue {
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'context': {
      const value = ctx.contexts[node.name];
      if (value === undefined) throw new ExpressionError(source, `the ${node.name} context is not available here`);
      return value;
    }
    case 'member':
      return member(evaluateNode(node.object, ctx, source), evaluateNode(node.property, ctx, source));
    case 'not':
      return !truthy(evaluateNode(node.operand, ctx, source));
    case 'logical': {
      const left = evaluateNode(node.left, ctx, source);
      if (node.op === '&&') return truthy(left) ? evaluateNode(node.right, ctx, source) : left;
      return truthy(left) ? left : evaluateNode(node.right, ctx, source);
    }
    case 'binary': {
      const left = evaluateNode(node.left, ctx, source);
      const right = evaluateNode(node.right, ctx, source);
      if (node.op === '==') return looseEquals(left, right);
      if (node.op === '!=') return !looseEquals(left, right);
      return compare(node.op, left, right);
    }
    case 'call': {
      switch (node.name) {
        case 'success':
          return !ctx.failed;
        case 'failure':
          return !!ctx.failed;
        case 'always':
          return true;
        case 'cancelled':
          return false;
      }
      return FUNCTIONS[node.name](
        node.args.map((arg) => evaluateNode(arg, ctx, source)),
        source,
      );
    }
  }
}

export function evaluateExpression(source: string, ctx: ExpressionContext): ExprValue {
  return evaluateNode(parseExpression(source), ctx, source);
}

/** The `${{ … }}` spans of a string, with `}}` inside string literals not ending a span. */
function templateParts(text: string): Array<{ literal: string } | { expression: string }> {
  const parts: Array<{ literal: string } | { expression: string }> = [];
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('${{', i);
    if (start < 0) {
      parts.push({ literal: text.slice(i) });
      break;
    }
    if (start > i) parts.push({ literal: text.slice(i, start) });
    let j = start + 3;
    let inString = false;
    for (; j < text.length; j++) {
      if (text[j] === "'") inString = !inString;
      else if (!inString && text.startsWith('}}', j)) break;
    }
    if (j >= text.length) throw new ExpressionError(text.slice(start + 3).trim(), 'no closing }}');
    parts.push({ expression: text.slice(start + 3, j).trim() });
    i = j + 2;
  }
  return parts;
}

/** A value from the workflow file with its `${{ }}` expressions evaluated; a lone expression keeps its type. */
export function evaluateTemplate(value: unknown, ctx: ExpressionContext): ExprValue {
  if (typeof value !== 'string') return (value ?? null) as ExprValue;
  const parts = templateParts(value);
  if (parts.length === 1 && 'expression' in parts[0]) return evaluateExpression(parts[0].expression, ctx);
  return parts.map((part) => ('literal' in part ? part.literal : stringify(evaluateExpression(part.expression, ctx)))).join('');
}

export function interpolate(value: unknown, ctx: ExpressionContext): string {
  return stringify(evaluateTemplate(value, ctx));
}

function usesStatusFunction(node: Node): boolean {
  switch (node.type) {
    case 'call':
      return STATUS_FUNCTIONS.has(node.name) || node.args.some(usesStatusFunction);
    case 'member':
      return usesStatusFunction(node.object) || usesStatusFunction(node.property);
    case 'not':
      return usesStatusFunction(node.operand);
    case 'logical':
    case 'binary':
      return usesStatusFunction(node.left) || usesStatusFunction(node.right);
    default:
      return false;
  }
}

function conditionSource(condition: unknown): string | undefined {
  if (condition === undefined || condition === null) return undefined;
  if (typeof condition === 'boolean' || typeof condition === 'number') return String(condition);
  let source = String(condition).trim();
  const parts = templateParts(source);
  if (parts.length === 1 && 'expression' in parts[0]) source = parts[0].expression;
  else if (source.includes('${{')) throw new ExpressionError(source, 'an if: condition must be one expression');
  return source;
}

/** An `if:` condition: without a status function it is `success() && (condition)`, as on GitHub. */
export function evaluateCondition(condition: unknown, ctx: ExpressionContext): boolean {
  const source = conditionSource(condition);
  if (source === undefined || source === '') return !ctx.failed;
  const node = parseExpression(source);
  if (!usesStatusFunction(node) && ctx.failed) return false;
  return truthy(evaluateNode(node, ctx, source));
}

/** Every expression in a value parses (run before any step, so a typo fails the test at once). */
function checkTemplates(value: unknown): void {
  if (typeof value === 'string') {
    for (const part of templateParts(value)) if ('expression' in part) parseExpression(part.expression);
  } else if (Array.isArray(value)) {
    value.forEach(checkTemplates);
  } else if (value && typeof value === 'object') {
    Object.values(value).forEach(checkTemplates);
  }
}

// ---------------------------------------------------------------------------------------------
// File commands (GITHUB_ENV, GITHUB_OUTPUT)
// ---------------------------------------------------------------------------------------------

/** `name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks, as the runner reads them. */
export function parseFileCommands(text: string, file: string): Array<[string, string]> {
  const lines = text.split(/\r?\n/);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const heredoc = /^([^=]+?)<<(.+)$/.exec(line);
    const eq = line.indexOf('=');
    if (heredoc && (eq < 0 || eq > line.indexOf('<<'))) {
      const [, name, delimiter] = heredoc;
      const body: string[] = [];
      i++;
      while (i < lines.length && lines[i] !== delimiter) body.push(lines[i++]);
      if (i >= lines.length) throw new WorkflowRunnerError(`${file}: no closing delimiter "${delimiter}" for ${name}`, 'End a name<<DELIMITER block with a line holding only DELIMITER');
      out.push([name, body.join('\n')]);
    } else if (eq > 0) {
      out.push([line.slice(0, eq), line.slice(eq + 1)]);
    } else {
      throw new WorkflowRunnerError(`${file}: cannot read the line ${JSON.stringify(line)}`, 'Write name=value or name<<DELIMITER lines');
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------------------------

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
  /** Note a file the action would have uploaded (artifact, SARIF). */
  record(kind: string, path: string): void;
  log(line: string): void;
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
  recorded: Array<{ kind: string; path: string }>;
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
  recorded: Array<{ kind: string; path: string }>;
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
            record: (kind, path) => void state.recorded.push({ kind, path }),
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
  return {
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
    repository: 'auren/auren',
    repository_owner: 'auren',
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

// ---------------------------------------------------------------------------------------------
// Stand-ins for the actions the project's workflows use
// ---------------------------------------------------------------------------------------------

/** For actions whose effect is already true on this machine (Node installed, QEMU not needed…). */
export const noEffect: StandIn = async () => undefined;

/**
 * nrwl/nx-set-shas: exports NX_BASE (the last commit whose workflow run succeeded) and NX_HEAD
 * (HEAD) to GITHUB_ENV and sets the `base` / `head` outputs (its README, "Outputs").
 */
export function nxSetShas(shas: { base: string; head: string }): StandIn {
  return async (_step, ctx) => {
    ctx.setEnv('NX_BASE', shas.base);
    ctx.setEnv('NX_HEAD', shas.head);
    ctx.setOutput('base', shas.base);
    ctx.setOutput('head', shas.head);
    ctx.log(`nx-set-shas (stand-in): NX_BASE=${shas.base} NX_HEAD=${shas.head}`);
  };
}

/**
 * actions/checkout, where the workspace already is the checkout: it checks that HEAD is the
 * event's commit and, like the action's default `clean: true` (`git clean -ffdx` and
 * `git reset --hard HEAD`), leaves no file of an earlier run behind, so records in dist/ are this
 * run's own. The shared node_modules link survives, as a runner's `npm ci` would recreate it.
 */
export const checkoutWorkspace: StandIn = async (_step, ctx) => {
  const head = (await execa('git', ['rev-parse', 'HEAD'], { cwd: ctx.cwd, env: ctx.env })).stdout.trim();
  if (head !== ctx.event.sha) throw new Error(`the workspace is at ${head}, the event is for ${ctx.event.sha}; check out the event's commit first`);
  if (ctx.with.clean !== 'false') {
    await execa('git', ['reset', '-q', '--hard', 'HEAD'], { cwd: ctx.cwd, env: ctx.env });
    await execa('git', ['clean', '-q', '-ffdx', '-e', '/node_modules'], { cwd: ctx.cwd, env: ctx.env });
  }
};

/** actions/upload-artifact (`with.path`) and upload-sarif (`with.sarif_file`): record what would be uploaded. */
export const recordUpload =
  (kind: string, input: string): StandIn =>
  async (_step, ctx) => {
    ctx.record(kind, ctx.with[input] ?? '');
  };

// ---------------------------------------------------------------------------------------------
// The release workflow, end to end (called from pipeline.spec.ts)
// ---------------------------------------------------------------------------------------------

export interface ReleaseScenarioResult {
  /** Version the bridge had before (newest biometric-bridge@ tag) and the one expected now. */
  previousVersion: string;
  expectedVersion: string;
  /** The scripted commit. */
  sha: string;
  /** Registry tags created or moved by the run, for every repository under auren/ (empty: untouched). */
  pushedTags: Record<string, string[]>;
  /** Tag → digest of each repository after the run. */
  registryTags: Record<string, Record<string, string>>;
  /** Git tags on the bare `origin`, and those the run added there. */
  gitTagsOnOrigin: string[];
  newGitTagsOnOrigin: string[];
  /** The job summaries of every job that ran, in order. */
  summary: string;
  jobs: JobRun[];
}

interface ScenarioWorkspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  git(...args: string[]): Promise<string>;
  commit(message: string, files: Record<string, string>): Promise<string>;
}

const RELEASE_JOBS = ['plan', 'base-image', 'release', 'release-fanout'] as const;

function semverKey(version: string): number[] {
  return version.split(/[.-]/).slice(0, 3).map(Number);
}

/** Newest `<project>@<x.y.z>` git tag's version, or undefined. */
export function newestVersion(tags: string[], project: string): string | undefined {
  return tags
    .filter((tag) => new RegExp(`^${project}@\\d+\\.\\d+\\.\\d+$`).test(tag))
    .map((tag) => tag.slice(project.length + 1))
    .sort((a, b) => {
      const [x, y] = [semverKey(a), semverKey(b)];
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
    })
    .pop();
}

/** Tag → digest of every repository under auren/ (so a repository the run creates shows too). */
async function registryTagMap(registryHost: string): Promise<Record<string, Record<string, string>>> {
  const { createRegistryClient } = await import('../lib/registry/client');
  const client = createRegistryClient({ registry: registryHost });
  const out: Record<string, Record<string, string>> = {};
  const repositories = (await client.catalogList()).filter((name) => name.startsWith('auren/')).map((name) => name.slice('auren/'.length));
  for (const repo of repositories.sort()) {
    out[repo] = {};
    for (const tag of await client.tagList(`auren/${repo}`)) {
      const head = await client.manifestHead(`auren/${repo}`, tag);
      if (head !== 'not-found') out[repo][tag] = head.digest;
    }
  }
  return out;
}

/**
 * A merge to main that changes the biometric bridge, released by .github/workflows/release.yml's
 * own `run:` steps, job after job, against the registry at `registryHost` (namespace auren).
 *
 * What stands in for what, and why:
 * - actions/checkout: the clone is the checkout (cleaned as `clean: true` does);
 *   actions/setup-node, actions/cache, docker/setup-qemu-action, docker/setup-buildx-action,
 *   docker/login-action: no effect needed (Node 20 is here; buildah builds natively; the loopback
 *   registry needs no login);
 * - nrwl/nx-set-shas: NX_BASE = the commit before the change, NX_HEAD = HEAD;
 * - run steps that need what this machine cannot have: `npm ci` (node_modules is a link to the
 *   shared workspace's, installed from the same lockfile; removing it would break every other
 *   test) and "Install Trivy" (downloads from GitHub; the Trivy stand-in of
 *   tools/scanner-standins goes on PATH instead, as the action puts the real one there).
 * Machine settings a self-hosted runner would have: AUREN_BUILDER=buildah (no Docker engine),
 * vars.AUREN_PLATFORMS=linux/amd64 (no QEMU for arm64 RUN steps), a private git and docker
 * configuration (the setup action writes `git config --global`).
 */
export async function releaseWorkflowScenario(ws: ScenarioWorkspace, registryHost: string): Promise<ReleaseScenarioResult> {
  const scratch = await mkdtemp(join(tmpdir(), 'auren-release-wf-'));
  const origin = join(scratch, 'origin.git');
  await execa('git', ['init', '-q', '--bare', origin]);
  const remotes = (await ws.git('remote')).split('\n');
  if (remotes.includes('origin')) await ws.git('remote', 'set-url', 'origin', origin);
  else await ws.git('remote', 'add', 'origin', origin);

  const tagsBefore = (await ws.git('tag', '--list')).split('\n').filter(Boolean);
  const previousVersion = newestVersion(tagsBefore, 'biometric-bridge') ?? '0.1.0';
  const [major, minor] = semverKey(previousVersion);
  const expectedVersion = `${major}.${minor + 1}.0`;

  const base = (await ws.git('rev-parse', 'HEAD')).trim();
  const sha = await ws.commit('feat(bridge): drop duplicate heart-rate samples within one second', {
    'apps/biometric-bridge/biometric_bridge/dedup.py': '\n# Samples of one device within one second are duplicates.\n',
  });
  // The merge reaches origin before the workflow starts, with the history and tags it builds on.
  await ws.git('push', '-q', 'origin', 'main', '--tags');
  const originTagsBefore = await lsRemoteTags(ws, origin);

  // The clone's node_modules is a link to the shared workspace's: an `npm ci` there would empty
  // the folder every other test and engineer uses (npm ci removes node_modules first). So npm on
  // this runner refuses to install; the steps that would are stood in, and this makes any other
  // attempt fail loudly instead.
  const home = join(scratch, 'home');
  const guardBin = join(scratch, 'bin');
  await mkdir(join(home, 'docker'), { recursive: true });
  await mkdir(guardBin, { recursive: true });
  // buildah stats $DOCKER_CONFIG/config.json whenever DOCKER_CONFIG is set, so it must exist.
  await writeFile(join(home, 'docker', 'config.json'), '{"auths":{}}\n');
  const realNpm = (await execa('sh', ['-c', 'command -v npm'], { env: ws.env })).stdout.trim();
  await writeFile(
    join(guardBin, 'npm'),
    [
      '#!/bin/sh',
      'case "$1" in',
      '  ci|install|i|uninstall|prune|update|dedupe|rebuild)',
      '    echo "npm $1 refused: node_modules in this workspace is the shared workspace\'s (releaseWorkflowScenario)" >&2',
      '    exit 97 ;;',
      'esac',
      `exec ${JSON.stringify(realNpm)} "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const machineEnv: NodeJS.ProcessEnv = {
    ...ws.env,
    PATH: `${guardBin}${delimiter}${ws.env.PATH ?? ''}`,
    AUREN_BUILDER: 'buildah',
    GIT_CONFIG_GLOBAL: join(home, 'gitconfig'),
    DOCKER_CONFIG: join(home, 'docker'),
  };
  // The workflow must set these itself, from vars and secrets.
  for (const key of ['AUREN_REGISTRY', 'AUREN_REGISTRY_USERNAME', 'AUREN_REGISTRY_PASSWORD', 'AUREN_PLATFORMS', 'NX_BASE', 'NX_HEAD']) delete machineEnv[key];

  const standins = resolve(__dirname, '../../../../tools/scanner-standins');
  // setup.sh runs `npm ci` when package-lock.json is newer than node_modules' marker; after the
  // checkout's `git reset --hard` the clone's copy is newer only by its mtime, while node_modules
  // was installed from the same file (cloneWorkspace links it), so the marker's time is the truth.
  const marker = join(ws.dir, 'node_modules', '.package-lock.json');
  const checkout: StandIn = async (step, ctx) => {
    await checkoutWorkspace(step, ctx);
    if (!existsSync(marker)) throw new Error(`${marker} is missing: the shared node_modules is not installed`);
    await execa('touch', ['-r', marker, join(ws.dir, 'package-lock.json')]);
  };
  const standIns: Record<string, StandIn> = {
    'actions/checkout': checkout,
    'actions/setup-node': noEffect,
    'actions/cache': noEffect,
    'nrwl/nx-set-shas': nxSetShas({ base, head: sha }),
    'docker/login-action': noEffect,
    'docker/setup-qemu-action': noEffect,
    'docker/setup-buildx-action': noEffect,
    'actions/upload-artifact': recordUpload('artifact', 'path'),
    'github/codeql-action/upload-sarif': recordUpload('sarif', 'sarif_file'),
  };
  const runStandIns: Record<string, StandIn> = {
    'npm ci': async (_step, ctx) => {
      if (!existsSync(join(ctx.cwd, 'node_modules', '.package-lock.json'))) throw new Error('node_modules is not installed in the workspace');
    },
    'Install Trivy': async (_step, ctx) => ctx.addPath(standins),
  };

  const jobOptions = (job: string, run: string) => ({
    env: machineEnv,
    secrets: {},
    standIns,
    runStandIns,
    runnerTemp: join(scratch, `runner-${job}-${run}`),
    log: process.env.AUREN_WORKFLOW_LOG ? (line: string) => void process.stdout.write(`[${job}] ${line}\n`) : undefined,
  });
  const before = await registryTagMap(registryHost);
  const jobs: JobRun[] = [];
  const needs: Record<string, NeedsResult> = {};
  try {
    for (const job of RELEASE_JOBS) {
      const common = {
        workflowFile: '.github/workflows/release.yml',
        job,
        cwd: ws.dir,
        event: { name: 'push', ref: 'refs/heads/main', sha, before: base },
        vars: { AUREN_REGISTRY: `${registryHost}/auren`, AUREN_PLATFORMS: 'linux/amd64' },
        needs,
      };
      // A skipped job (its if: false) runs once without a matrix, which may be empty then.
      const combinations = (await jobCondition(common)) ? await matrixCombinations(common) : [undefined];
      const runs: JobRun[] = [];
      for (const [index, matrix] of combinations.entries()) runs.push(await runWorkflowJob({ ...common, ...jobOptions(job, String(index)), matrix }));
      for (const run of runs) {
        jobs.push(run);
        if (run.result === 'failure') {
          throw new Error(`release.yml job ${run.failure}\n--- job log (end) ---\n${run.log.split('\n').slice(-80).join('\n')}`);
        }
      }
      // Outputs of matrix jobs are last-writer-wins on GitHub; none of release.yml's are read.
      needs[job] = { result: runs.every((r) => r.result === 'skipped') ? 'skipped' : 'success', outputs: runs[runs.length - 1]?.outputs ?? {} };
    }
    const after = await registryTagMap(registryHost);
    const pushedTags: Record<string, string[]> = {};
    for (const repo of Object.keys(after)) {
      pushedTags[repo] = Object.keys(after[repo])
        .filter((tag) => before[repo]?.[tag] !== after[repo][tag])
        .sort();
    }
    const gitTagsOnOrigin = await lsRemoteTags(ws, origin);
    return {
      previousVersion,
      expectedVersion,
      sha,
      pushedTags,
      registryTags: after,
      gitTagsOnOrigin,
      newGitTagsOnOrigin: gitTagsOnOrigin.filter((tag) => !originTagsBefore.includes(tag)),
      summary: jobs.map((job) => job.summary).join('\n'),
      jobs,
    };
  } finally {
    // origin, runner folders, npm guard and git/docker configuration are this scenario's alone.
    await ws.git('remote', 'remove', 'origin').catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

async function lsRemoteTags(ws: ScenarioWorkspace, remote: string): Promise<string[]> {
  return (await ws.git('ls-remote', '--tags', '--refs', remote))
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t')[1].replace(/^refs\/tags\//, ''))
    .sort();
}
