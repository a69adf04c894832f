import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { splitList } from '../lib/config/lists';
import { compiledValidators } from '../lib/config/validator-cache';
import { inputError } from '../lib/errors/errors';

/**
 * A command's flags come from a JSON schema — the executor's own schema.json where the command
 * has an executor, so `nx run registry:cleanup --journalDir x` and `auren-registry cleanup
 * --journal-dir x` take the same options with the same checks and the same descriptions. From it
 * this module derives the `util.parseArgs` configuration, the --help text, and the ajv validation.
 */

export interface JsonSchemaProperty {
  type?: string | string[];
  oneOf?: JsonSchemaProperty[];
  items?: JsonSchemaProperty;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  additionalProperties?: unknown;
}

export interface OptionsSchema {
  title?: string;
  description?: string;
  type?: string;
  properties: Record<string, JsonSchemaProperty>;
  required?: string[];
  additionalProperties?: boolean;
}

export interface Positional {
  name: string;
  description: string;
  required?: boolean;
  /** Takes every remaining argument. */
  variadic?: boolean;
}

export interface CommandSpec {
  /** The options' schema (an executor's schema.json, or the command's own under cli/schemas). */
  schema: OptionsSchema;
  /** Options of the schema the command line does not take (it takes them as positionals). */
  omit?: readonly string[];
  /** Options only the command line has (output format, the registry to talk to). */
  cli?: Record<string, JsonSchemaProperty>;
  /** Older spellings of a flag, `alias → property`. */
  aliases?: Readonly<Record<string, string>>;
  positionals?: readonly Positional[];
  /** The error when a required positional is missing (default: names the first one missing). */
  missingPositional?: string;
  /** Paragraph lines after the schema's description: what the command does beyond its options. */
  about?: readonly string[];
  examples: readonly string[];
}

export interface ParsedCommandLine {
  /** Schema property names (camelCase), typed as the schema says, defaults not applied. */
  options: Record<string, unknown>;
  positionals: string[];
}

/** `journalDir` → `journal-dir`. */
export const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function properties(spec: CommandSpec): Record<string, JsonSchemaProperty> {
  const out: Record<string, JsonSchemaProperty> = {};
  for (const [name, property] of Object.entries(spec.schema.properties)) if (!spec.omit?.includes(name)) out[name] = property;
  return { ...out, ...spec.cli };
}

const typesOf = (p: JsonSchemaProperty): string[] => [
  ...(Array.isArray(p.type) ? p.type : p.type ? [p.type] : []),
  ...(p.oneOf ?? []).flatMap(typesOf),
];

/** What the command line can express: booleans as bare flags, lists comma-separated. */
function cliKind(p: JsonSchemaProperty): 'boolean' | 'number' | 'list' | 'string' | 'object' {
  const types = typesOf(p);
  if (types.includes('boolean')) return 'boolean';
  if (types.includes('integer') || types.includes('number')) return 'number';
  if (types.includes('string')) return 'string';
  if (types.includes('array')) return 'list';
  return 'object';
}

function placeholder(name: string, p: JsonSchemaProperty): string {
  if (p.enum) return p.enum.join('|');
  switch (cliKind(p)) {
    case 'number':
      return 'n';
    case 'list':
      return 'a,b';
    default:
      return typesOf(p).includes('array') ? 'a,b' : kebab(name).split('-').pop() ?? 'value';
  }
}

/** The full --help text, from the schema: usage, description, options with defaults, examples. */
export function renderHelp(command: string, spec: CommandSpec): string {
  const props = Object.entries(properties(spec)).filter(([, p]) => cliKind(p) !== 'object');
  const args = (spec.positionals ?? []).map((p) => {
    const name = `<${p.name}>${p.variadic ? '…' : ''}`;
    return p.required ? name : `[${name}]`;
  });
  const flags = props.map(([name, p]) => (cliKind(p) === 'boolean' ? `--${kebab(name)}` : `--${kebab(name)} ${placeholder(name, p)}`));
  const width = Math.max(0, ...flags.map((f) => f.length), ...(spec.positionals ?? []).map((p) => p.name.length + 2));
  const wrap = (text: string, indent: number) => {
    const words = text.split(/\s+/).filter(Boolean);
    const lines: string[] = [];
    let line = '';
    for (const word of words) {
      if (line && line.length + word.length + 1 > 100 - indent) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    if (line) lines.push(line);
    return lines.join(`\n${' '.repeat(indent)}`);
  };
  const out = [`usage: auren-registry ${[command, ...args].join(' ')}${props.length ? ' [options]' : ''}`, ''];
  if (spec.schema.description) out.push(wrap(spec.schema.description, 0));
  if (spec.about?.length) out.push(...(spec.schema.description ? [''] : []), ...spec.about);
  if (spec.positionals?.length) {
    out.push('', 'arguments:');
    for (const p of spec.positionals) out.push(`  ${`<${p.name}>`.padEnd(width)}  ${wrap(p.description, width + 4)}`);
  }
  if (props.length) {
    out.push('', 'options:');
    props.forEach(([, p], i) => {
      const extra = p.default !== undefined && p.default !== false ? ` (default: ${Array.isArray(p.default) ? p.default.join(',') : String(p.default)})` : '';
      out.push(`  ${flags[i].padEnd(width)}  ${wrap(`${p.description ?? ''}${extra}`, width + 4)}`);
    });
  }
  out.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return out.join('\n');
}

const validators = new WeakMap<CommandSpec, ValidateFunction>();

function describeAjvError(error: ErrorObject, flagOf: (property: string) => string): string {
  const property = error.instancePath.split('/')[1] ?? '';
  const flag = property ? flagOf(property) : 'the options';
  switch (error.keyword) {
    case 'enum':
      return `${flag} must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'required':
      return `${flagOf((error.params as { missingProperty: string }).missingProperty)} is required`;
    default:
      return `${flag} ${error.message ?? 'is not valid'}`;
  }
}

/**
 * Parses `args` with node's util.parseArgs (strict: an unknown flag is an error naming the flag
 * and the command's --help), turns values into the schema's types and validates them with ajv.
 * Nothing of the command runs before this returns.
 */
export function parseCommandLine(command: string, spec: CommandSpec, args: readonly string[]): ParsedCommandLine {
  const props = properties(spec);
  const help = `Run \`auren-registry ${command} --help\` for its options.`;
  const config: NonNullable<ParseArgsConfig['options']> = {};
  const property: Record<string, string> = {};
  const flagOf = (name: string) => `--${kebab(name)}`;
  for (const [name, p] of Object.entries(props)) {
    if (cliKind(p) === 'object') continue;
    const type = cliKind(p) === 'boolean' ? 'boolean' : 'string';
    for (const spelling of new Set([kebab(name), name])) {
      config[spelling] = { type };
      property[spelling] = name;
    }
  }
  for (const [alias, name] of Object.entries(spec.aliases ?? {})) {
    config[alias] = { type: cliKind(props[name]) === 'boolean' ? 'boolean' : 'string' };
    property[alias] = name;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options: config, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
    if (unknown) throw inputError(`unknown option ${unknown} for auren-registry ${command}`, help);
    const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(message)?.[1];
    // node names the option by all its spellings ("-t, --tag"): the last one is the long flag.
    if (missing) throw inputError(`${missing.slice(missing.lastIndexOf(' ') + 1)} needs a value`, help);
    throw inputError(`auren-registry ${command}: ${message}`, help);
  }
  const options: Record<string, unknown> = {};
  for (const [spelling, value] of Object.entries(parsed.values)) {
    const name = property[spelling];
    if (name in options) throw inputError(`${flagOf(name)} is given twice`, help);
    const kind = cliKind(props[name]);
    if (kind === 'number') {
      const n = Number(value);
      options[name] = value === '' || !Number.isFinite(n) ? value : n;
    } else if (kind === 'list') {
      options[name] = splitList(String(value));
    } else options[name] = value;
  }
  let validate = validators.get(spec);
  if (!validate) {
    const $id = `auren-registry-${command}-command-line`;
    const schema = { $id, type: 'object', properties: props, additionalProperties: false };
    validate = compiledValidators({ schema, formats: {}, keywords: [], entryPoints: { options: $id }, ajvOptions: { strict: false, allErrors: false } }).options;
    validators.set(spec, validate);
  }
  if (!validate(options)) throw inputError(describeAjvError((validate.errors ?? [])[0], flagOf), help);

  const positionals = parsed.positionals;
  const declared = spec.positionals ?? [];
  const missing = declared.find((p, i) => p.required && positionals[i] === undefined);
  if (missing) throw inputError(spec.missingPositional ?? `auren-registry ${command} needs <${missing.name}>`, help);
  if (!declared.some((p) => p.variadic) && positionals.length > declared.length) {
    throw inputError(`unexpected argument "${positionals[declared.length]}" for auren-registry ${command}`, help);
  }
  return { options, positionals };
}
