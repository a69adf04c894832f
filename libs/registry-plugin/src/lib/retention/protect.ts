import { join } from 'node:path';
import { readComposeFile, serviceImage } from '../compose';
import { parseImageReference } from '../registry/reference';
import { readPushRecords, type PushRecord } from '../reports/records';
import type { Protection } from './policy';

/**
 * What outside the registry depends on an image: the production compose file's image refs and
 * the newest push record of every app. Retention keeps these whatever their age.
 */

export interface ComposeImage {
  service: string;
  image: string;
}

/**
 * The images the production compose file names, variables substituted (an unset variable is
 * empty, as compose itself runs it). No compose file protects nothing.
 */
export function composeImages(workspaceRoot: string, composeFile: string, env: NodeJS.ProcessEnv): ComposeImage[] {
  const compose = readComposeFile(join(workspaceRoot, composeFile), composeFile);
  if (!compose) return [];
  return compose.services.flatMap((service) => {
    const image = serviceImage(compose, service, env);
    return image === undefined ? [] : [{ service: service.name, image }];
  });
}

/** Newest push record of every app under dist/images (dry-run records pushed nothing). */
export function pushRecords(workspaceRoot: string): PushRecord[] {
  return readPushRecords(workspaceRoot).filter((record) => !record.dryRun && record.repository && record.digest);
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
