import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { requireComposeFile, serviceImage } from '../compose';
import { AurenError, formatError, inputError } from '../errors/errors';
import type { RegistryClient } from '../registry/client';
import { DOCKER_HUB, formatReference, parseImageReference, validateRepository, type ImageReference } from '../registry/reference';
import { isImmutableTag } from '../pipeline/push';
import { describeCopyPlan, executeCopy, isNothingToDo, planCopy, type CopyPlan, type CopyPlanResult } from './copy-plan';

/**
 * Mirror: copy the third-party images the stack runs on (databases, brokers) into our registry,
 * by digest and with every platform, so deployments never depend on Docker Hub's pull limits
 * or availability. `redis:7-alpine` becomes `<registry>/<namespace>/mirror/redis:7-alpine`,
 * byte for byte, so the upstream digest also resolves in our registry and a deployment can pin
 * `<registry>/<namespace>/mirror/redis@<upstream digest>`.
 *
 * Mirrored tags follow upstream (re-mirroring moves them): upstream `7-alpine` is rebuilt for
 * security fixes and the mirror should pick those up. Version tags (`v1.2.3`, `isImmutableTag`)
 * are the exception, as everywhere in our registry: one that upstream re-points is what a
 * hijacked release tag looks like, so the mirror refuses to move it and names both digests, and
 * two mirrors racing for one are guarded like docker-push (`executeCopy`). The digest pins in
 * the mirror record are what make a deployment reproducible. What is attached to an image
 * upstream (signatures, SBOMs, attestations in the referrers fallback index) is mirrored with it.
 */
export interface MirrorEntry {
  /** As written in the compose file or the `images` option. */
  image: string;
  /** Where it comes from, docker's conventions applied (`redis` → docker.io/library/redis). */
  origin: ImageReference;
  /** Where it is read: `origin`, or the same repository on `sourceRegistry`. */
  source: { registry: string; repository: string; reference: string };
  target: { repository: string; tags: string[] };
}

export const MIRROR_RECORD = 'dist/mirror/mirror.json';

/** `docker.io/library/redis` → `redis`; `docker.io/timescale/timescaledb` → `timescale/timescaledb`; other registries keep the path. */
export function mirrorName(origin: ImageReference): string {
  return origin.registry === DOCKER_HUB && origin.repository.startsWith('library/') ? origin.repository.slice('library/'.length) : origin.repository;
}

export function mirrorRepository(origin: ImageReference, namespace: string): string {
  return validateRepository([namespace, 'mirror', mirrorName(origin)].filter(Boolean).join('/'));
}

export interface MirrorEntryOptions {
  namespace: string;
  /** Read every image from this registry (same repository path) instead of its own. */
  sourceRegistry?: string;
}

export function mirrorEntries(images: readonly string[], options: MirrorEntryOptions): MirrorEntry[] {
  const entries = images.map((image): MirrorEntry => {
    const origin = parseImageReference(image);
    // docker pulls `latest` when a reference names neither tag nor digest.
    const tag = origin.tag ?? (origin.digest ? undefined : 'latest');
    return {
      image,
      origin: { ...origin, ...(tag ? { tag } : {}) },
      source: { registry: options.sourceRegistry ?? origin.registry, repository: origin.repository, reference: origin.digest ?? (tag as string) },
      target: { repository: mirrorRepository(origin, options.namespace), tags: tag ? [tag] : [] },
    };
  });
  const seen = new Map<string, string>();
  for (const entry of entries) {
    const key = `${entry.target.repository}:${entry.target.tags[0] ?? entry.source.reference}`;
    const other = seen.get(key);
    if (other !== undefined && other !== formatReference(entry.origin)) {
      throw inputError(`${other} and ${formatReference(entry.origin)} would both be mirrored as ${key}`, 'Mirror only one of them, or pin one by digest.');
    }
    seen.set(key, formatReference(entry.origin));
  }
  // The same image listed twice (two services on one image) is mirrored once.
  return entries.filter((entry, i) => entries.findIndex((e) => formatReference(e.origin) === formatReference(entry.origin)) === i);
}

/**
 * Images of the compose services that are not built here (no `build:`), in file order. An unset
 * variable in an image name is an error: mirroring `redis:` would copy the wrong image.
 */
export function composeThirdPartyImages(composePath: string, env: NodeJS.ProcessEnv = {}): string[] {
  const compose = requireComposeFile(composePath, composePath, 'Pass --images=<image>,… or --composeFile with the compose file that lists the third-party services.');
  const images: string[] = [];
  for (const service of compose.services) {
    if (service.builds) continue;
    const image = serviceImage(compose, service, env, 'error');
    if (image !== undefined && !images.includes(image)) images.push(image);
  }
  return images;
}

export type MirrorStatus = 'mirrored' | 'unchanged' | 'planned' | 'failed';

export interface MirrorOutcome {
  entry: MirrorEntry;
  status: MirrorStatus;
  plan?: CopyPlan;
  result?: CopyPlanResult;
  /** For `failed`: what went wrong, and what to do about it. */
  error?: string;
  hint?: string;
}

function failed(entry: MirrorEntry, error: unknown, plan?: CopyPlan): MirrorOutcome {
  if (error instanceof AurenError) return { entry, plan, status: 'failed', error: error.message, hint: error.hint };
  return { entry, plan, status: 'failed', error: formatError(error) };
}

export interface RunMirrorInput {
  entries: MirrorEntry[];
  /** Our registry (`host[:port]`) and its client. */
  registry: string;
  target: RegistryClient;
  /** A client per source registry (`host[:port]` or docker.io). */
  sourceClient: (registry: string) => Promise<RegistryClient>;
  dryRun: boolean;
  log: (line: string) => void;
}

/**
 * Plans every image first and prints the plans, then copies them one after the other. One
 * image failing (upstream gone, rate limit outlasting the retries) does not stop the others;
 * the outcome says which failed and why.
 */
export async function runMirror(input: RunMirrorInput): Promise<MirrorOutcome[]> {
  const clients = new Map<string, Promise<RegistryClient>>();
  const clientFor = (registry: string) => {
    let client = clients.get(registry);
    if (!client) clients.set(registry, (client = input.sourceClient(registry)));
    return client;
  };
  const outcomes: MirrorOutcome[] = [];
  for (const entry of input.entries) {
    try {
      const plan = await planCopy({
        from: { client: await clientFor(entry.source.registry), repository: entry.source.repository, reference: entry.source.reference },
        to: { client: input.target, repository: entry.target.repository, tags: entry.target.tags },
        immutableTags: isImmutableTag,
      });
      input.log(describeCopyPlan(plan, `mirror ${entry.image}:`));
      outcomes.push({ entry, status: 'planned', plan });
    } catch (error) {
      const outcome = failed(entry, error);
      input.log(`mirror ${entry.image}: cannot plan: ${outcome.error}`);
      outcomes.push(outcome);
    }
  }
  if (input.dryRun) return outcomes;
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.status !== 'planned' || !outcome.plan) continue;
    const plan = outcome.plan;
    const nothingToDo = isNothingToDo(plan);
    try {
      outcome.result = await executeCopy(input.target, plan, { immutableTags: isImmutableTag, verb: 'mirror' });
      outcome.status = nothingToDo ? 'unchanged' : 'mirrored';
    } catch (error) {
      outcomes[i] = failed(outcome.entry, error, plan);
    }
  }
  return outcomes;
}

export interface MirrorRecordEntry {
  image: string;
  source: string;
  digest: string;
  mediaType: string;
  platforms: string[];
  /** `<registry>/<repository>:<tag>` */
  target: string;
  /** `<registry>/<repository>@<digest>`: what a deployment should pin. */
  pinned: string;
}

export function pinnedReference(registry: string, plan: CopyPlan): string {
  return `${registry}/${plan.target.repository}@${plan.source.digest}`;
}

export function mirrorRecordEntries(registry: string, outcomes: readonly MirrorOutcome[]): MirrorRecordEntry[] {
  return outcomes
    .filter((o) => (o.status === 'mirrored' || o.status === 'unchanged') && o.plan)
    .map(({ entry, plan }) => {
      const p = plan as CopyPlan;
      const tag = entry.target.tags[0];
      return {
        image: entry.image,
        source: formatReference(entry.origin),
        digest: p.source.digest,
        mediaType: p.source.mediaType,
        platforms: p.source.platforms,
        target: `${registry}/${entry.target.repository}${tag ? `:${tag}` : `@${p.source.digest}`}`,
        pinned: pinnedReference(registry, p),
      };
    });
}

/** Writes (replacing entries for the same targets) the record of what was mirrored. */
export async function writeMirrorRecord(path: string, registry: string, entries: MirrorRecordEntry[]): Promise<void> {
  let previous: MirrorRecordEntry[] = [];
  if (existsSync(path)) {
    try {
      const old = JSON.parse(readFileSync(path, 'utf8')) as { registry?: string; images?: MirrorRecordEntry[] };
      if (old.registry === registry && Array.isArray(old.images)) previous = old.images;
    } catch {
      // A damaged record is rewritten from this run.
    }
  }
  const merged = [...previous.filter((p) => !entries.some((e) => e.target === p.target)), ...entries];
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify({ schemaVersion: 1, registry, mirroredAt: new Date().toISOString(), images: merged }, null, 2) + '\n');
}

/** One error for the executor and CLI when any image failed. */
export function mirrorFailure(outcomes: readonly MirrorOutcome[]): AurenError | undefined {
  const bad = outcomes.filter((o) => o.status === 'failed');
  if (!bad.length) return undefined;
  const hints = [...new Set(bad.map((o) => o.hint).filter(Boolean))];
  const others = outcomes.some((o) => o.status === 'mirrored' || o.status === 'unchanged') ? 'The others are mirrored. ' : '';
  return new AurenError(
    'registry',
    `${bad.length} of ${outcomes.length} image${outcomes.length > 1 ? 's' : ''} not mirrored:\n` + bad.map((o) => `  ${o.entry.image}: ${o.error}`).join('\n'),
    `${others}${hints.length ? `${hints.join(' ')} ` : ''}Then run the mirror again; images already there are skipped.`,
  );
}
