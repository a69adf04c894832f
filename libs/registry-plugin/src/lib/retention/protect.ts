import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { inputError } from '../errors/errors';
import { parseImageReference } from '../registry/reference';
import { PUSH_RECORD, type PushRecord } from '../reports/records';
import type { Protection } from './policy';

/**
 * What outside the registry depends on an image: the production compose file's image refs and
 * the newest push record of every app. Retention keeps these whatever their age.
 */

/** Compose variable interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?msg}`, `$VAR`, `$$`. */
export function interpolate(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (match, dollar, braced, op, arg, bare) => {
    if (dollar === '$') return '$';
    const name = braced ?? bare;
    const value = env[name];
    const unsetOrEmpty = value === undefined || value === '';
    switch (op) {
      case ':-': return unsetOrEmpty ? interpolate(arg ?? '', env) : value;
      case '-': return value === undefined ? interpolate(arg ?? '', env) : value;
      case ':+': return unsetOrEmpty ? '' : interpolate(arg ?? '', env);
      case '+': return value === undefined ? '' : interpolate(arg ?? '', env);
      default: return value ?? '';
    }
  });
}

export interface ComposeImage {
  service: string;
  image: string;
}

export function composeImages(workspaceRoot: string, composeFile: string, env: NodeJS.ProcessEnv): ComposeImage[] {
  const path = join(workspaceRoot, composeFile);
  if (!existsSync(path)) return [];
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'), { merge: true });
  } catch (error) {
    throw inputError(`${composeFile} is not valid YAML: ${(error as Error).message}`, 'Fix the compose file; cleanup will not guess which images production uses.');
  }
  const services = (doc as { services?: Record<string, { image?: unknown }> } | null)?.services ?? {};
  return Object.entries(services)
    .filter(([, s]) => s && typeof s.image === 'string')
    .map(([service, s]) => ({ service, image: interpolate(s.image as string, env) }));
}

/** Newest push record of every app under dist/images (dry-run records pushed nothing). */
export function pushRecords(workspaceRoot: string): PushRecord[] {
  const dir = join(workspaceRoot, 'dist', 'images');
  if (!existsSync(dir)) return [];
  const records: PushRecord[] = [];
  for (const project of readdirSync(dir)) {
    const path = join(dir, project, PUSH_RECORD);
    if (!existsSync(path)) continue;
    try {
      const record = JSON.parse(readFileSync(path, 'utf8')) as PushRecord;
      if (!record.dryRun && record.repository && record.digest) records.push(record);
    } catch (error) {
      throw inputError(`${path} is not valid JSON: ${(error as Error).message}`, 'Delete it or run docker-push again; cleanup will not guess what it protected.');
    }
  }
  return records;
}

/** Protections per repository of `registry`. */
export function collectProtections(input: {
  registry: string;
  compose: readonly ComposeImage[];
  records: readonly PushRecord[];
  composeFile: string;
}): Map<string, Protection[]> {
  const out = new Map<string, Protection[]>();
  const add = (repository: string, p: Protection) => out.set(repository, [...(out.get(repository) ?? []), p]);
  for (const { service, image } of input.compose) {
    let ref;
    try {
      ref = parseImageReference(image);
    } catch {
      continue; // an unresolvable ref cannot name one of our images
    }
    if (ref.registry !== input.registry) continue;
    const source = `${input.composeFile} service ${service}`;
    if (ref.digest) add(ref.repository, { digest: ref.digest, source });
    else add(ref.repository, { tag: ref.tag ?? 'latest', source });
  }
  for (const record of input.records) {
    if (record.registry !== input.registry) continue;
    const source = `push record of ${record.project} (${record.pushedAt})`;
    add(record.repository, { digest: record.digest, source });
    for (const tag of record.tags) add(record.repository, { tag, source });
  }
  return out;
}
