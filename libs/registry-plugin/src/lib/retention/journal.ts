import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AurenError } from '../errors/errors';
import { checkJournal, progressLineOf } from './journal-check';

/**
 * The undo journal of a cleanup: every manifest it deletes, saved (exact bytes, media type, tags)
 * before the first deletion, so `restore` can PUT them back until garbage collection removes
 * their blobs. `<name>.json` is rewritten atomically (temp file + fsync + rename); progress goes
 * to `<name>.json.progress`, one JSON line per deletion, so a killed run leaves a journal that
 * says exactly what happened and the next run resumes into it.
 */

export interface JournalEntry {
  repository: string;
  digest: string;
  mediaType: string;
  /** base64 of the manifest bytes; they hash to `digest`. */
  body: string;
  tags: string[];
  /** Child manifests, for an index: restored before it. */
  children: string[];
}

export interface Journal {
  schemaVersion: 1;
  registry: string;
  startedAt: string;
  finishedAt?: string;
  entries: JournalEntry[];
}

export type ProgressState = 'deleted' | 'already-gone' | 'skipped';

export interface ProgressLine {
  repository: string;
  digest: string;
  state: ProgressState;
  reason?: string;
  at: string;
}

export const DEFAULT_JOURNAL_DIR = '.auren/journal';
/** The lock file (lock.ts) a cleanup --apply or a restore holds in the journal folder. */
export const JOURNAL_LOCK = 'cleanup.lock';
const key = (repository: string, digest: string) => `${repository}@${digest}`;

export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function journalFileName(now: Date): string {
  return `${now.toISOString().replace(/[:.]/g, '-')}.json`;
}

/** Larger than any journal cleanup writes (a few KiB per deleted manifest); a bound on what is read. */
const MAX_JOURNAL_BYTES = 256 * 1024 * 1024;

/**
 * The journal at `path`, checked whole (journal-check.ts) before anything uses it, and what its
 * progress file says happened. A progress line that is not one (a torn last line of a killed run,
 * or an edit) counts as never written: the registry is the truth for that entry.
 */
export function readJournal(path: string): { journal: Journal; progress: Map<string, ProgressLine> } {
  if (!existsSync(path)) throw new AurenError('input', `journal ${path} does not exist`, 'List the journals with `ls .auren/journal` and pass one with --journal.');
  const stat = statSync(path);
  if (!stat.isFile() || stat.size > MAX_JOURNAL_BYTES) {
    throw new AurenError('input', `journal ${path} is not a file of at most ${MAX_JOURNAL_BYTES / 1024 / 1024} MiB`, 'Pass the .json file a cleanup wrote under .auren/journal.');
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AurenError('input', `journal ${path} is not valid JSON: ${(error as Error).message}`, 'The journal was cut short or damaged; nothing was restored.');
  }
  const journal = checkJournal(value, path);
  const progress = new Map<string, ProgressLine>();
  const progressPath = `${path}.progress`;
  if (existsSync(progressPath)) {
    if (statSync(progressPath).size > MAX_JOURNAL_BYTES) {
      throw new AurenError('input', `${progressPath} is larger than ${MAX_JOURNAL_BYTES / 1024 / 1024} MiB: not the progress of a cleanup`, 'Move it aside; the registry is the truth for what was deleted.');
    }
    for (const line of readFileSync(progressPath, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let item: ProgressLine | undefined;
      try {
        item = progressLineOf(JSON.parse(line));
      } catch {
        item = undefined;
      }
      if (item) progress.set(key(item.repository, item.digest), item);
    }
  }
  return { journal, progress };
}

/** The newest unfinished journal of this registry in `dir`, to resume into. */
export function findUnfinishedJournal(dir: string, registry: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort().reverse();
  for (const name of names) {
    try {
      const journal = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Journal;
      if (journal.schemaVersion === 1 && journal.registry === registry && !journal.finishedAt) return join(dir, name);
    } catch {
      // not ours or damaged: never resume into it
    }
  }
  return undefined;
}

export function newestJournal(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  return names.length ? join(dir, names[names.length - 1]) : undefined;
}

export class JournalWriter {
  private journal: Journal;
  /** Entries the progress file had a line for when this writer opened the journal. */
  private recorded = new Set<string>();
  constructor(readonly path: string, registry: string, now: Date) {
    if (existsSync(path)) {
      const { journal, progress } = readJournal(path);
      this.journal = journal;
      this.recorded = new Set(progress.keys());
    } else this.journal = { schemaVersion: 1, registry, startedAt: now.toISOString(), entries: [] };
    if (this.journal.registry !== registry) {
      throw new AurenError('input', `journal ${path} belongs to registry ${this.journal.registry}, not ${registry}`);
    }
    delete this.journal.finishedAt;
    this.flush();
  }

  /** Saves manifests before they are deleted; entries already saved keep their first bytes. */
  save(entries: readonly JournalEntry[]): void {
    const known = new Map(this.journal.entries.map((e) => [key(e.repository, e.digest), e]));
    for (const entry of entries) {
      const existing = known.get(key(entry.repository, entry.digest));
      if (existing) existing.tags = [...new Set([...existing.tags, ...entry.tags])].sort();
      else this.journal.entries.push(entry);
    }
    this.flush();
  }

  /** Saved entries a resumed run found no progress line for: the killed run's last deletions. */
  unrecorded(): JournalEntry[] {
    return this.journal.entries.filter((e) => !this.recorded.has(key(e.repository, e.digest)));
  }

  /** One line per outcome; appendFileSync writes it whole before the next deletion is recorded. */
  record(line: Omit<ProgressLine, 'at'>): void {
    appendFileSync(`${this.path}.progress`, JSON.stringify({ ...line, at: new Date().toISOString() }) + '\n');
  }

  finish(now: Date): void {
    this.journal.finishedAt = now.toISOString();
    this.flush();
  }

  private flush(): void {
    writeFileAtomic(this.path, JSON.stringify(this.journal, null, 1) + '\n');
  }
}
