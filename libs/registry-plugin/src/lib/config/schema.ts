import type { ErrorObject, ValidateFunction } from 'ajv';
import { valid as validSemver } from 'semver';
import { configError, credentialsInAddressError, type AurenError } from '../errors/errors';
import { redactReference, redactUserinfo, referenceHasCredentials } from '../errors/redact';
import schema from './plugin-options.schema.json';
import { isRegistryHost, validateNamespace, validateRegistryHost } from './registry-address';
import { compiledValidators } from './validator-cache';

/**
 * The plugin options' schema (plugin-options.schema.json) is the one definition of their
 * types, allowed values and keys; `checkPluginOptions` holds nx.json's options and the AUREN_*
 * overrides to it before `normalizeOptions` applies defaults. A refusal names the option's path
 * and what was found, never a coerced guess: the string "false" is not false.
 */

const SCHEMA_ID = schema.$id;
const PLUGIN_OPTION = 'nx.json plugin option';

type JsonSchema = { description?: string; 'x-expected'?: string; properties?: Record<string, unknown> };

function isCalendarDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.toISOString().startsWith(value);
}

const NAMESPACE_OK = (value: string) => {
  try {
    validateNamespace(value, '');
    return true;
  } catch {
    return false;
  }
};

const FORMATS: Record<string, (value: string) => boolean> = {
  date: isCalendarDate,
  semver: (value) => validSemver(value) === value,
  'registry-address': isRegistryHost,
  namespace: NAMESPACE_OK,
  'reference-template': (value) => !referenceHasCredentials(value),
};

/** The whole options object under `options`; each AUREN_* override under its variable's name. */
const ENTRY_POINTS: Record<string, string> = {
  options: SCHEMA_ID,
  ...Object.fromEntries(Object.entries(schema['x-environment']).map(([variable, pointer]) => [variable, `${SCHEMA_ID}${pointer}`])),
};

let compiled: Record<string, ValidateFunction> | undefined;

function validators(): Record<string, ValidateFunction> {
  compiled ??= compiledValidators({
    schema,
    formats: FORMATS,
    keywords: ['x-expected', 'x-environment'],
    entryPoints: ENTRY_POINTS,
    ajvOptions: { allErrors: false, strict: true, verbose: true },
  });
  return compiled;
}

/** What was found, for a message: short, and never an address's userinfo. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length ? 'a list' : 'an empty list';
  switch (typeof value) {
    case 'string': {
      const shown = redactUserinfo(value);
      return `the string ${JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown)}`;
    }
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return `the boolean ${value}`;
    default:
      return 'an object';
  }
}

const TYPE_NAMES: Record<string, string> = {
  boolean: 'a boolean',
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  array: 'a list',
  object: 'an object',
};

/** `/scan/ignore/0/expires` → `scan.ignore[0].expires`, by the shape of the data it points into. */
function optionPath(instancePath: string, data: unknown): string {
  let path = '';
  let node: unknown = data;
  for (const raw of instancePath.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += Array.isArray(node) ? `[${token}]` : path ? `.${token}` : token;
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[token] : undefined;
  }
  return path;
}

function explain(error: ErrorObject, subject: string, path: string): AurenError {
  const value = error.data;
  const parent = (error.parentSchema ?? {}) as JsonSchema;
  const hint = parent.description ? `${subject}: ${parent.description}` : `Fix ${subject} (see lib/config/plugin-options.schema.json).`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type':
      return configError(`${subject} must be ${TYPE_NAMES[String(params.type)] ?? String(params.type)}, got ${describeValue(value)}`, hint);
    case 'enum':
      return configError(`${subject} must be one of ${(params.allowedValues as unknown[]).join(', ')}, got ${describeValue(value)}`, hint);
    case 'minItems':
      return configError(`${subject} must list at least ${params.limit === 1 ? 'one value' : `${String(params.limit)} values`}, got ${describeValue(value)}`, hint);
    case 'minLength':
      return configError(`${subject} must not be empty`, hint);
    case 'minimum':
      return configError(`${subject} must be at least ${String(params.limit)}, got ${describeValue(value)}`, hint);
    case 'required':
      return configError(`${subject}${path ? '.' : ' '}${String(params.missingProperty)} is required`, hint);
    case 'additionalProperties': {
      const known = Object.keys(parent.properties ?? {});
      return configError(
        `unknown option ${path ? `${path}.` : ''}${String(params.additionalProperty)} in the nx.json plugin options`,
        known.length ? `${path || 'The plugin options'} take${path ? 's' : ''}: ${known.join(', ')}.` : hint,
      );
    }
    case 'format':
      switch (params.format) {
        case 'registry-address':
          validateRegistryHost(String(value), subject);
          break;
        case 'namespace':
          validateNamespace(String(value), subject);
          break;
        case 'reference-template':
          return credentialsInAddressError(redactReference(String(value)), subject);
      }
      return configError(`${subject} must be ${parent['x-expected'] ?? `in the format ${String(params.format)}`}, got ${describeValue(value)}`, hint);
    default:
      return configError(`${subject} ${error.message ?? 'is not valid'}, got ${describeValue(value)}`, hint);
  }
}

/** Holds nx.json's plugin options to the schema; throws a config error naming the first option that is wrong. */
export function checkPluginOptions(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw configError(`the nx.json plugin options must be an object, got ${describeValue(options)}`, `Write them as "options": { … } in the @auren/registry-plugin entry of nx.json's plugins.`);
  }
  const validate = validators().options;
  if (validate(options)) return;
  const error = (validate.errors ?? [])[0];
  const path = optionPath(error.instancePath, options);
  throw explain(error, path ? `${PLUGIN_OPTION} ${path}` : 'the nx.json plugin options', path);
}

/** Environment overrides, held to the definition of the option they replace (`x-environment` in the schema). */
export function checkEnvironmentOverride(variable: keyof typeof schema['x-environment'], value: string): string {
  const validate = validators()[variable];
  if (!validate(value)) throw explain((validate.errors ?? [])[0], `environment variable ${variable}`, '');
  return value;
}
