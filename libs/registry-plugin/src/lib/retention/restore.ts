import { AurenError } from '../errors/errors';
import type { RegistryClient } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { dirname, join } from 'node:path';
import { JOURNAL_LOCK, readJournal, type Journal, type JournalEntry } from './journal';
import { lockAcquire } from './lock';

/**
 * Puts back what a cleanup deleted, from its undo journal: manifests by digest (children before
 * the indexes that hold them), then their tags. A tag that now names another image is left alone.
 * This works until garbage collection removes the manifests' blobs.
 */

export type RestoreOutcome = 'restored' | 'present' | 'tag-taken' | 'blobs-gone';

export interface RestoreItem {
  repository: string;
  digest: string;
  tag?: string;
  outcome: RestoreOutcome;
  detail?: string;
}

export interface RestoreResult {
  journal: string;
  registry: string;
  items: RestoreItem[];
}

function depthOrder(entries: readonly JournalEntry[]): JournalEntry[][] {
  const byKey = new Map(entries.map((e) => [`${e.repository}@${e.digest}`, e]));
  const depth = new Map<string, number>();
  const depthOf = (e: JournalEntry, seen = new Set<string>()): number => {
    const k = `${e.repository}@${e.digest}`;
    if (depth.has(k)) return depth.get(k)!;
    if (seen.has(k)) return 0;
    seen.add(k);
    const kids = e.children.map((c) => byKey.get(`${e.repository}@${c}`)).filter((c): c is JournalEntry => !!c);
    const d = kids.length ? 1 + Math.max(...kids.map((c) => depthOf(c, seen))) : 0;
    depth.set(k, d);
    return d;
  };
  const levels: JournalEntry[][] = [];
  for (const e of entries) (levels[depthOf(e)] ??= []).push(e);
  return levels.filter(Boolean);
}

export async function restoreJournal(client: RegistryClient, path: string, options: { concurrency: number; log?: (line: string) => void }): Promise<RestoreResult> {
  const { journal } = readJournal(path);
  if (journal.registry !== client.registry) {
    throw new AurenError('input', `journal ${path} was written for ${journal.registry}, not ${client.registry}`, `Restore it against ${journal.registry} (set AUREN_REGISTRY).`);
  }
  // Checked whole above, before any request; now one upkeep run at a time in this journal folder.
  const lock = lockAcquire(join(dirname(path), JOURNAL_LOCK), 'restore', options.log);
  try {
    return await restoreEntries(client, path, journal, options);
  } finally {
    lock.release();
  }
}

async function restoreEntries(client: RegistryClient, path: string, journal: Journal, options: { concurrency: number; log?: (line: string) => void }): Promise<RestoreResult> {
  const items: RestoreItem[] = [];
  const log = options.log ?? (() => undefined);
  const note = (item: RestoreItem) => {
    items.push(item);
    log(`${item.outcome.padEnd(10)} ${item.repository}${item.tag ? `:${item.tag}` : ''}@${item.digest.slice(0, 19)}${item.detail ? ` — ${item.detail}` : ''}`);
  };
  const failedDigests = new Set<string>();

  for (const level of depthOrder(journal.entries)) {
    await mapLimit(level, options.concurrency, async (entry) => {
      const body = Buffer.from(entry.body, 'base64');
      const present = await client.manifestHead(entry.repository, entry.digest);
      if (present === 'not-found') {
        try {
          await client.manifestPut(entry.repository, entry.digest, body, entry.mediaType);
          note({ repository: entry.repository, digest: entry.digest, outcome: 'restored' });
        } catch (error) {
          if (error instanceof AurenError && /BLOB_UNKNOWN|MANIFEST_UNKNOWN|MANIFEST_BLOB_UNKNOWN/.test(error.message)) {
            failedDigests.add(`${entry.repository}@${entry.digest}`);
            note({ repository: entry.repository, digest: entry.digest, outcome: 'blobs-gone', detail: 'garbage collection already removed its blobs; push the image again' });
            return;
          }
          throw error;
        }
      } else note({ repository: entry.repository, digest: entry.digest, outcome: 'present' });
      await mapLimit(entry.tags, options.concurrency, async (tag) => {
        const now = await client.manifestHead(entry.repository, tag);
        if (now !== 'not-found' && now.digest !== entry.digest) {
          note({ repository: entry.repository, digest: entry.digest, tag, outcome: 'tag-taken', detail: `${tag} now names ${now.digest.slice(0, 19)}; left as is` });
          return;
        }
        if (now === 'not-found') await client.manifestPut(entry.repository, tag, body, entry.mediaType);
        note({ repository: entry.repository, digest: entry.digest, tag, outcome: now === 'not-found' ? 'restored' : 'present' });
      });
    });
  }
  return { journal: path, registry: journal.registry, items };
}
