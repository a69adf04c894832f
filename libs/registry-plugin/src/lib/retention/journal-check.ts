import { createHash } from 'node:crypto';
import { AurenError } from '../errors/errors';
import { isDigest } from '../registry/digest';
import { tryParseManifest } from '../registry/image-graph';
import { isValidRepository } from '../registry/reference';
import { isValidTag } from '../registry/tag-grammar';
import type { Journal, JournalEntry, ProgressLine } from './journal';

/**
 * The whole-file check of an undo journal, run before `restore` (or a resumed cleanup) uses any of
 * it. A journal is a file in the workspace: anyone can edit, damage or truncate it, and restore
 * PUTs what it says to the registry with the user's credentials. So it must be exactly what
 * JournalWriter writes — every field present with its type, nothing else, digests that are sha256
 * and that the saved bytes hash to, repository names and tags in their grammar, children that are
 * the index's own — or nothing of it is used. The first problem is named, with its place.
 *
 * Written by hand rather than with a JSON Schema library: the plugin's runtime dependencies stay
 * few, and the checks that matter most (the bytes hash to the digest, the children are the
 * index's) are not expressible in JSON Schema anyway.
 */

/** Only sha256: cleanup writes nothing else, and it keeps `..` and `/` out of any path built from it. */
/** RFC 6838 type/subtype. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** host[:port], or a bracketed IPv6 address. */
const REGISTRY = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

const ENTRY_KEYS = ['repository', 'digest', 'mediaType', 'body', 'tags', 'children'] as const;
const JOURNAL_KEYS = ['schemaVersion', 'registry', 'startedAt', 'finishedAt', 'entries'] as const;
const PROGRESS_STATES: readonly string[] = ['deleted', 'already-gone', 'skipped'];

/** The registry's one digest grammar, narrowed to sha256: a journal's saved bytes are hashed with it. */
export const isSha256Digest = (value: unknown): value is string => isDigest(value, 'sha256');

/** A value as it may be printed in a message: quoted, escaped, short. */
function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

class Problem extends Error {}
const fail = (message: string): never => {
  throw new Problem(message);
};

const isObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Array.isArray(value);

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) fail(`${where} has an unknown field ${shown(key)}`);
}

function time(value: unknown, where: string): string {
  if (typeof value !== 'string' || !ISO_TIME.test(value) || Number.isNaN(Date.parse(value))) fail(`${where} is not an ISO 8601 UTC time (${shown(value)})`);
  return value as string;
}

function entryCheck(value: unknown, where: string): JournalEntry {
  if (!isObject(value)) return fail(`${where} is not an object (${shown(value)})`);
  onlyKeys(value, ENTRY_KEYS, where);
  for (const key of ENTRY_KEYS) if (!(key in value)) fail(`${where}.${key} is missing`);
  const { repository, digest, mediaType, body, tags, children } = value;
  if (typeof repository !== 'string' || !isValidRepository(repository)) fail(`${where}.repository is not a repository name (${shown(repository)})`);
  if (!isSha256Digest(digest)) fail(`${where}.digest is not a sha256 digest (${shown(digest)})`);
  if (typeof mediaType !== 'string' || !MEDIA_TYPE.test(mediaType)) fail(`${where}.mediaType is not a media type (${shown(mediaType)})`);
  if (typeof body !== 'string' || body.length === 0 || !BASE64.test(body)) fail(`${where}.body is not base64 (${shown(body)})`);
  if (!Array.isArray(tags)) fail(`${where}.tags is not a list (${shown(tags)})`);
  (tags as unknown[]).forEach((tag, i) => {
    if (typeof tag !== 'string' || !isValidTag(tag)) fail(`${where}.tags[${i}] is not a tag (${shown(tag)})`);
  });
  if (new Set(tags as string[]).size !== (tags as string[]).length) fail(`${where}.tags lists a tag twice`);
  if (!Array.isArray(children)) fail(`${where}.children is not a list (${shown(children)})`);
  (children as unknown[]).forEach((child, i) => {
    if (!isSha256Digest(child)) fail(`${where}.children[${i}] is not a sha256 digest (${shown(child)})`);
  });

  const bytes = Buffer.from(body as string, 'base64');
  if (`sha256:${createHash('sha256').update(bytes).digest('hex')}` !== digest) {
    fail(`the saved bytes of ${where} (${repository as string}@${digest as string}) do not hash to that digest`);
  }
  // The bytes are what the registry held; what the entry says about them must agree with them.
  const manifest = tryParseManifest(bytes, mediaType as string);
  if (!manifest) return fail(`${where}.body is not a manifest or index`);
  const own = manifest.document.mediaType;
  if (typeof own === 'string' && own !== mediaType) fail(`${where}.mediaType ${shown(mediaType)} is not the manifest's own ${shown(own)}`);
  const listed = manifest.children.map((m) => m.digest).sort().join();
  if (listed !== [...(children as string[])].sort().join()) fail(`${where}.children are not the manifests its index lists`);
  return value as unknown as JournalEntry;
}

/** The journal, if the whole of `value` is one; else an input error naming the first problem. */
export function checkJournal(value: unknown, path: string): Journal {
  try {
    if (!isObject(value)) fail(`not a cleanup journal (a JSON object with schemaVersion 1 and entries), got ${shown(value)}`);
    const journal = value as Record<string, unknown>;
    onlyKeys(journal, JOURNAL_KEYS, 'the journal');
    if (journal.schemaVersion !== 1) fail(`schemaVersion is ${shown(journal.schemaVersion)}, not 1`);
    if (typeof journal.registry !== 'string' || !REGISTRY.test(journal.registry)) fail(`registry is not a registry address (${shown(journal.registry)})`);
    time(journal.startedAt, 'startedAt');
    if ('finishedAt' in journal) time(journal.finishedAt, 'finishedAt');
    if (!Array.isArray(journal.entries)) fail(`entries is not a list (${shown(journal.entries)})`);
    const seen = new Map<string, number>();
    (journal.entries as unknown[]).forEach((entry, i) => {
      const checked = entryCheck(entry, `entries[${i}]`);
      const key = `${checked.repository}@${checked.digest}`;
      if (seen.has(key)) fail(`entries[${i}] repeats entries[${seen.get(key)}] (${key})`);
      seen.set(key, i);
    });
    return journal as unknown as Journal;
  } catch (error) {
    if (!(error instanceof Problem)) throw error;
    throw new AurenError(
      'input',
      `journal ${path}: ${error.message}`,
      'The journal was edited or damaged; nothing was restored. Restore from another copy of it, or from the journal of another run.',
    );
  }
}

/** One line of the progress file, if it is one; anything else is treated as a line never written. */
export function progressLineOf(value: unknown): ProgressLine | undefined {
  if (!isObject(value)) return undefined;
  const { repository, digest, state, reason, at } = value;
  if (typeof repository !== 'string' || !isValidRepository(repository) || !isSha256Digest(digest)) return undefined;
  if (typeof state !== 'string' || !PROGRESS_STATES.includes(state) || typeof at !== 'string') return undefined;
  if (reason !== undefined && typeof reason !== 'string') return undefined;
  return { repository, digest, state: state as ProgressLine['state'], reason, at };
}
