/**
 * GitHub Actions expressions (`${{ }}`): a lexer, a parser and an evaluator, after
 * https://docs.github.com/en/actions/learn-github-actions/expressions — loose equality with
 * number coercion, case-insensitive string comparison, `&&`/`||` returning an operand, and `if:`
 * implicitly `success() && (…)` unless it calls a status function.
 *
 * Hand-written rather than GitHub's own @actions/expressions: that package is ESM-only
 * ("type": "module", exports with only an "import" condition), and this workspace's jest and
 * ts-node paths load CommonJS.
 */
import { ExpressionError } from './errors';
import { hashFiles } from './glob';

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

/** The binary and logical nodes: an operator between two operands. */
type Operation = Extract<Node, { op: string }>;

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

  /** One left-associative level of the grammar, `next (op next)*`, for the operators `ops`. */
  const level =
    <T extends Operation['type']>(type: T, ops: readonly Extract<Operation, { type: T }>['op'][], next: () => Node) =>
    (): Node => {
      let left = next();
      for (let op = ops.find(isPunct); op; op = ops.find(isPunct)) {
        pos++;
        left = { type, op, left, right: next() } as Operation;
      }
      return left;
    };
  const or = level('logical', ['||'], () => and());
  const and = level('logical', ['&&'], () => equality());
  const equality = level('binary', ['==', '!='], () => comparison());
  const comparison = level('binary', ['<', '<=', '>', '>='], () => unary());
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
      if (!(name in FUNCTIONS) && !STATUS_FUNCTIONS.has(name) && name !== 'hashfiles') fail(`unsupported function ${word}()`);
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

export const isObject = (value: ExprValue): value is { [key: string]: ExprValue } =>
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
        case 'hashfiles': {
          // Paths are relative to the workspace (github.workspace), as on the runner.
          const workspace = member(ctx.contexts.github ?? null, 'workspace');
          if (typeof workspace !== 'string' || !workspace) throw new ExpressionError(source, 'hashFiles() needs github.workspace');
          return hashFiles(workspace, node.args.map((arg) => stringify(evaluateNode(arg, ctx, source))));
        }
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

export function conditionSource(condition: unknown): string | undefined {
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
export function checkTemplates(value: unknown): void {
  if (typeof value === 'string') {
    for (const part of templateParts(value)) if ('expression' in part) parseExpression(part.expression);
  } else if (Array.isArray(value)) {
    value.forEach(checkTemplates);
  } else if (value && typeof value === 'object') {
    Object.values(value).forEach(checkTemplates);
  }
}
