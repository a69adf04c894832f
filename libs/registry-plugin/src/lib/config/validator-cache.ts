import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ValidateFunction } from 'ajv';

/**
 * The options' validators as JavaScript that ajv wrote once, instead of ajv compiling the schema
 * in every process. Every Nx command reads the plugin options (createNodes) and so does every
 * task process; loading ajv and compiling the schema took 70–100 ms of each, running the code it
 * generates takes under 5 ms.
 *
 * The code is kept in node_modules/.cache beside ajv, keyed by the schema, ajv's version and
 * the compile settings, and written whole (a temporary file renamed) so that no process reads
 * half of it. It is as trusted as node_modules itself, which runs on every command anyway. A
 * cache that cannot be written only costs the compile next time; one that does not evaluate to
 * every entry point is compiled again.
 */

const SCHEME = 'v1';

export interface ValidatorSpec {
  schema: { $id: string };
  /** Custom formats, by name; the generated code calls these same functions. */
  formats: Record<string, (value: string) => boolean>;
  /** Annotation keywords the schema uses. */
  keywords: string[];
  /** Name → schema reference: each becomes one validate function. */
  entryPoints: Record<string, string>;
  /** ajv's settings that shape the code. */
  ajvOptions: { allErrors?: boolean; strict?: boolean; verbose?: boolean };
  /**
   * Where the code is kept: this, else AUREN_VALIDATOR_CACHE_DIR, else
   * node_modules/.cache/auren-validators beside ajv.
   */
  cacheDir?: string;
}

function cacheFile(spec: ValidatorSpec): string | undefined {
  try {
    const ajvPackage = require.resolve('ajv/package.json');
    const version = (JSON.parse(readFileSync(ajvPackage, 'utf8')) as { version: string }).version;
    const key = createHash('sha256')
      .update(JSON.stringify([SCHEME, version, spec.ajvOptions, spec.schema, Object.keys(spec.formats).sort(), spec.keywords, spec.entryPoints]))
      .digest('hex');
    return join(spec.cacheDir ?? (process.env.AUREN_VALIDATOR_CACHE_DIR || join(dirname(dirname(ajvPackage)), '.cache', 'auren-validators')), `${key}.js`);
  } catch {
    return undefined;
  }
}

function evaluate(code: string, spec: ValidatorSpec): Record<string, ValidateFunction> | undefined {
  const exported: Record<string, unknown> = {};
  try {
    // The code ajv generates is a CommonJS module body: it sets `exports` and requires ajv's
    // runtime helpers; `formats` is the name its format checks were generated against.
    new Function('exports', 'require', 'formats', code)(exported, require, spec.formats);
  } catch {
    return undefined;
  }
  const names = Object.keys(spec.entryPoints);
  return names.every((name) => typeof exported[name] === 'function') ? (exported as Record<string, ValidateFunction>) : undefined;
}

function generate(spec: ValidatorSpec): string {
  // Loaded only here: a process that finds the cache never loads ajv's compiler.
  const { default: Ajv, _ } = require('ajv') as typeof import('ajv');
  const { default: standaloneCode } = require('ajv/dist/standalone') as typeof import('ajv/dist/standalone');
  const ajv = new Ajv({ ...spec.ajvOptions, code: { source: true, formats: _`formats` } });
  ajv.addVocabulary(spec.keywords);
  for (const [name, check] of Object.entries(spec.formats)) ajv.addFormat(name, check);
  ajv.addSchema(spec.schema);
  return standaloneCode(ajv, spec.entryPoints);
}

export function compiledValidators(spec: ValidatorSpec): Record<string, ValidateFunction> {
  const file = cacheFile(spec);
  if (file) {
    let cached: string | undefined;
    try {
      cached = readFileSync(file, 'utf8');
    } catch {
      // Not compiled yet.
    }
    const validators = cached === undefined ? undefined : evaluate(cached, spec);
    if (validators) return validators;
  }
  const code = generate(spec);
  const validators = evaluate(code, spec);
  if (!validators) throw new Error(`ajv's code for ${spec.schema.$id} does not define ${Object.keys(spec.entryPoints).join(', ')}`);
  if (file) {
    try {
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, code);
      renameSync(tmp, file);
    } catch {
      // A read-only node_modules only costs the compile next time.
    }
  }
  return validators;
}
