import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DEFAULT_HISTORY_REPOSITORY } from '../config/defaults';
import { AurenError } from '../errors/errors';
import type { RegistryClient } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { sha256Digest } from '../registry/digest';
import { readConfig, tryParseManifest } from '../registry/image-graph';
import { OCI_MANIFEST } from '../registry/media-types';
import { isPushEvent, type PushEvent, type PushEventInput } from './event';
import { parseWindow, type HistoryWindow } from './window';

/**
 * Push history kept in the registry itself, so every CI run (any machine, any cache) can read and
 * append to it with the credentials it already has for pushing.
 *
 * Layout: one repository (`<namespace>/auren-history`), one tag per event,
 * `event-<UTC time>-<random>`, pointing to a tiny OCI artifact manifest whose config blob is the
 * event's JSON (copied into an annotation so a reader needs one request per event).
 *
 * Why a tag per event and not one index listing every event: the distribution API has no
 * compare-and-swap on tags (a PUT of `push-history` silently replaces whatever another job put a
 * moment before, and If-Match is not part of the spec), so read-modify-write of a shared index can
 * lose an event however carefully it retries. Creating a new, unique tag never overwrites anyone
 * else's, so concurrent appends cannot lose each other; the reader lists tags (the tag list is
 * complete, `Link` pages followed) and can skip events outside the window from the tag name alone.
 */
export const PUSH_EVENT_ARTIFACT = 'application/vnd.auren.push-event.v1+json';
export const EVENT_ANNOTATION = 'io.auren.push-event.v1';
export const HISTORY_REPOSITORY = DEFAULT_HISTORY_REPOSITORY;

/** `<namespace>/<name>` (the `historyRepository` option, default `auren-history`), or `<name>` with no namespace. */
export function historyRepository(namespace: string, name: string = HISTORY_REPOSITORY): string {
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * The image repositories under `namespace/` from the registry's catalog, sorted; the push history
 * is an append-only log, not images, so it is never among them. `hint` says what to do when the
 * registry has no catalog API (GHCR, Docker Hub).
 */
export async function catalogImageRepositories(client: RegistryClient, namespace: string, hint: string, historyName: string = HISTORY_REPOSITORY): Promise<string[]> {
  let all: string[];
  try {
    all = await client.catalogList();
  } catch (error) {
    throw new AurenError('registry', `cannot list the repositories of ${client.registry}: ${error instanceof Error ? error.message : String(error)}`, hint, { cause: error });
  }
  const prefix = namespace ? `${namespace}/` : '';
  const history = historyRepository(namespace, historyName);
  return all.filter((r) => r.startsWith(prefix) && r !== history).sort();
}

const TAG_RE = /^event-(\d{8}T\d{9}Z)-([a-f0-9]+)$/;

/** `event-20250102T030405678Z-<hex>`: sorts by time, fits the OCI tag grammar (≤128 chars). */
export function eventTag(at: Date, id: string): string {
  const iso = at.toISOString(); // 2025-01-02T03:04:05.678Z
  return `event-${iso.slice(0, 10).replace(/-/g, '')}T${iso.slice(11, 23).replace(/[:.]/g, '')}Z-${id}`;
}

export function tagTime(tag: string): Date | undefined {
  const match = TAG_RE.exec(tag);
  if (!match) return undefined;
  const s = match[1];
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`;
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

function blobSource(bytes: Buffer) {
  return { digest: sha256Digest(bytes), size: bytes.length, open: () => Readable.from([bytes]) };
}

/**
 * Appends one event: uploads its JSON blob and creates its own tag. Safe to call from many jobs
 * at once. Throws a typed registry error on failure; callers recording a push should log and go
 * on rather than fail a push that succeeded.
 */
export async function recordPushEvent(client: RegistryClient, repo: string, input: PushEventInput, now: Date = new Date()): Promise<PushEvent> {
  const id = input.id ?? randomBytes(8).toString('hex');
  const event: PushEvent = { ...input, schemaVersion: 1, id, at: input.at ?? now.toISOString() };
  const json = Buffer.from(JSON.stringify(event));
  const config = blobSource(json);
  await client.blobUpload(repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: PUSH_EVENT_ARTIFACT,
      config: { mediaType: PUSH_EVENT_ARTIFACT, digest: config.digest, size: config.size },
      layers: [],
      annotations: { [EVENT_ANNOTATION]: json.toString('utf8'), 'org.opencontainers.image.created': event.at },
    }),
  );
  // The tag carries the time of recording, not `event.at`: a job that records late still sorts
  // where a reader looking at "the last 7 days" expects it.
  await client.manifestPut(repo, eventTag(now, id), manifest, OCI_MANIFEST);
  return event;
}

export interface ReadHistoryOptions {
  /** Manifests fetched at once. Default 16. */
  concurrency?: number;
  now?: Date;
}

/**
 * Every event recorded in the window, oldest first. Tags outside the window are skipped without
 * a request; an event that cannot be read (deleted between list and get, or not ours) is left out.
 */
export async function readPushHistory(
  client: RegistryClient,
  repo: string,
  window: HistoryWindow | string,
  options: ReadHistoryOptions = {},
): Promise<PushEvent[]> {
  const span = typeof window === 'string' ? parseWindow(window, options.now) : window;
  const tags = (await client.tagList(repo)).filter((tag) => {
    const time = tagTime(tag);
    return time !== undefined && time >= span.since && time <= new Date(span.until.getTime() + 60_000);
  });
  const events = await mapLimit(tags, options.concurrency ?? 16, async (tag) => readEvent(client, repo, tag));
  const seen = new Set<string>();
  return events
    .filter((e): e is PushEvent => !!e && !seen.has(e.id) && !!seen.add(e.id))
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || a.id.localeCompare(b.id));
}

/** One event by its tag; undefined when it is gone or not ours. */
export async function readEvent(client: RegistryClient, repo: string, tag: string): Promise<PushEvent | undefined> {
  const manifest = await client.manifestGet(repo, tag);
  if (manifest === 'not-found') return undefined;
  const parsed = tryParseManifest(manifest.body, manifest.mediaType);
  if (!parsed) return undefined;
  const annotation = parsed.annotations[EVENT_ANNOTATION];
  let candidate: unknown;
  if (annotation) {
    try {
      candidate = JSON.parse(annotation);
    } catch {
      candidate = undefined;
    }
  }
  if (!isPushEvent(candidate) && parsed.config?.mediaType === PUSH_EVENT_ARTIFACT && parsed.config.digest) {
    // The blob is the authoritative copy; the annotation is only a shortcut.
    candidate = await readConfig(client, repo, parsed.config.digest);
  }
  return isPushEvent(candidate) ? candidate : undefined;
}
