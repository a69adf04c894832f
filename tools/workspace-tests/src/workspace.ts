import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

export const workspaceRoot = join(__dirname, '..', '..', '..');

export const fromRoot = (...parts: string[]) => join(workspaceRoot, ...parts);

export function readYaml(path: string): unknown {
  // `merge: true` so `<<:` anchors work as in Compose; `uniqueKeys` rejects duplicate keys, which
  // YAML itself forbids but GitHub and Compose would silently collapse.
  return parseYaml(readFileSync(path, 'utf8'), { merge: true, uniqueKeys: true });
}

export function listFiles(dir: string, pattern: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => pattern.test(name))
    .sort()
    .map((name) => join(dir, name));
}

/**
 * A validator for one of the vendored schemas in tools/schemas (see SOURCES.md there).
 * `strict: false`: SchemaStore and compose-spec use keywords ajv's strict mode rejects
 * (`deprecated`, unknown formats, `$comment` placement); they are annotations, not constraints.
 */
export function schemaValidator(file: string): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  // compose-spec.json names its meta-schema "https://json-schema.org/draft-07/schema" (no "#"),
  // an id ajv does not register; both schemas are draft-07, ajv's default, so it is dropped.
  const { $schema: _metaSchema, ...schema } = JSON.parse(readFileSync(fromRoot('tools', 'schemas', file), 'utf8'));
  return ajv.compile(schema);
}

export function formatErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
    .join('\n');
}

function nx(args: string[]): string {
  // The real Nx CLI: the project graph comes from the same plugin CI uses.
  return execFileSync(fromRoot('node_modules', '.bin', 'nx'), args, {
    cwd: workspaceRoot,
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true' },
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** JSON from an `nx show` command; Nx may print warnings before it, so take the JSON part. */
function nxJson<T>(args: string[]): T {
  const out = nx(args);
  const start = out.search(/[[{]/);
  return JSON.parse(out.slice(start)) as T;
}

/** Every project and its targets, as `nx show` reports them (inferred targets included). */
export function loadProjectTargets(): Map<string, Set<string>> {
  const names = nxJson<string[]>(['show', 'projects', '--json']);
  const result = new Map<string, Set<string>>();
  for (const name of names) {
    const project = nxJson<{ targets?: Record<string, unknown> }>(['show', 'project', name, '--json']);
    result.set(name, new Set(Object.keys(project.targets ?? {})));
  }
  return result;
}
