import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { inputError } from './errors/errors';

/**
 * The one reader of Compose files (docker-compose.yml, docker-compose.prod.yml) and the one
 * implementation of Compose variable interpolation. Deploy (which services exist), mirror (the
 * third-party images) and retention (the images production runs) all read compose files here, so
 * `${VAR:-default}` means the same thing to each of them.
 */

/**
 * What an unset variable without a default becomes. The compose spec says an empty string (with
 * a warning); a caller that cannot work with a half-empty value (an image name to copy) asks for
 * an error naming the variable instead.
 */
export type UnsetVariable = 'empty' | 'error';

export interface InterpolateOptions {
  /** Names the value in errors, e.g. `service redis in docker-compose.yml`. */
  where: string;
  unset?: UnsetVariable;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const OPERATORS = [':-', '-', ':?', '?', ':+', '+'] as const;
type Operator = (typeof OPERATORS)[number];

/**
 * Compose-spec "Interpolation": `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty),
 * `${VAR-default}` (unset), `${VAR:+replacement}` (set and non-empty), `${VAR+replacement}` (set),
 * `${VAR:?message}` (error when unset or empty), `${VAR?message}` (error when unset), `$$` for a
 * literal `$`. Defaults and replacements may themselves hold `${…}`; they are evaluated only when
 * used, so an unused nested `${X:?…}` does not fail.
 */
export function interpolate(text: string, env: NodeJS.ProcessEnv, options: InterpolateOptions): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar === -1) return out + text.slice(i);
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
    } else if (next === '{') {
      const end = closingBrace(text, dollar + 2, options.where);
      out += substitute(text.slice(dollar + 2, end), text.slice(dollar, end + 1), env, options);
      i = end + 1;
    } else {
      const bare = NAME.exec(text.slice(dollar + 1));
      // A `$` not followed by a name stays as it is (compose does the same, e.g. `price: 5$`).
      out += bare ? variable(bare[0], `$${bare[0]}`, env, options) : '$';
      i = dollar + 1 + (bare ? bare[0].length : 0);
    }
  }
  return out;
}

function closingBrace(text: string, from: number, where: string): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  throw inputError(`${where}: "${text.slice(from - 2)}" has no closing "}"`, 'Write variables as ${NAME}, ${NAME:-default} or $NAME; write a literal $ as $$.');
}

function substitute(body: string, whole: string, env: NodeJS.ProcessEnv, options: InterpolateOptions): string {
  const name = NAME.exec(body)?.[0];
  const rest = name ? body.slice(name.length) : '';
  const op = OPERATORS.find((o) => rest.startsWith(o));
  if (!name || (rest !== '' && !op)) {
    throw inputError(`${options.where}: invalid interpolation format "${whole}"`, 'Write variables as ${NAME}, ${NAME:-default}, ${NAME:?message} or $NAME; write a literal $ as $$.');
  }
  if (!op) return variable(name, whole, env, options);
  return withOperator(name, op, rest.slice(op.length), env, options);
}

function withOperator(name: string, op: Operator, arg: string, env: NodeJS.ProcessEnv, options: InterpolateOptions): string {
  const value = env[name];
  const unset = value === undefined;
  const unsetOrEmpty = unset || value === '';
  const nested = () => interpolate(arg, env, options);
  switch (op) {
    case ':-':
      return unsetOrEmpty ? nested() : value;
    case '-':
      return unset ? nested() : value;
    case ':+':
      return unsetOrEmpty ? '' : nested();
    case '+':
      return unset ? '' : nested();
    case ':?':
    case '?':
      if (op === ':?' ? unsetOrEmpty : unset) {
        const message = nested();
        throw inputError(
          `${options.where}: required variable ${name} is missing a value${message ? `: ${message}` : ''}`,
          `Set ${name} in the environment (or in CI's variables) and run again.`,
        );
      }
      return value ?? '';
    default: {
      const unhandled: never = op;
      return unhandled;
    }
  }
}

function variable(name: string, whole: string, env: NodeJS.ProcessEnv, options: InterpolateOptions): string {
  const value = env[name];
  if (value !== undefined) return value;
  if (options.unset === 'error') {
    throw inputError(`${options.where} uses ${whole}, which is not set`, `Set ${name}, or give it a default in the compose file (\${${name}:-value}).`);
  }
  return '';
}

export interface ComposeService {
  name: string;
  /** `image:` as written, before interpolation. */
  image: string | undefined;
  /** Whether the service has a `build:` section (an image made from this workspace). */
  builds: boolean;
}

export interface ComposeFile {
  /** The path as the caller names it in messages. */
  file: string;
  services: ComposeService[];
}

/**
 * Reads a compose file's services in file order. A missing file is `undefined` (for retention
 * that is "nothing to protect"; for deploy and mirror an error with their own hint); YAML that
 * does not parse, or a file without a `services` mapping, is an error naming the file.
 */
export function readComposeFile(path: string, file = path): ComposeFile | undefined {
  if (!existsSync(path)) return undefined;
  let doc: unknown;
  try {
    // `<<: *anchor` merge keys are common in compose files (x-defaults); the spec allows them.
    doc = parseYaml(readFileSync(path, 'utf8'), { merge: true });
  } catch (error) {
    throw inputError(`${file} is not valid YAML: ${(error as Error).message}`, 'Fix the compose file; the pipeline will not guess which images it names.');
  }
  const services = (doc as { services?: unknown } | null)?.services;
  if (!services || typeof services !== 'object' || Array.isArray(services)) {
    throw inputError(`${file} has no "services" mapping`, 'A compose file lists its containers under a top-level "services:" key.');
  }
  return {
    file,
    services: Object.entries(services as Record<string, unknown>).map(([name, raw]) => {
      const service = raw && typeof raw === 'object' ? (raw as { image?: unknown; build?: unknown }) : {};
      return { name, image: typeof service.image === 'string' ? service.image : undefined, builds: service.build !== undefined };
    }),
  };
}

/** Like readComposeFile, but a missing file is an error with the caller's hint. */
export function requireComposeFile(path: string, file: string, hint: string): ComposeFile {
  const compose = readComposeFile(path, file);
  if (!compose) throw inputError(`compose file ${file} not found`, hint);
  return compose;
}

/** A service's `image:` with its variables substituted, or undefined when it names none. */
export function serviceImage(compose: ComposeFile, service: ComposeService, env: NodeJS.ProcessEnv, unset: UnsetVariable = 'empty'): string | undefined {
  return service.image === undefined ? undefined : interpolate(service.image, env, { where: `service ${service.name} in ${compose.file}`, unset });
}
