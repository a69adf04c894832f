import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes, markdownTable, textTable } from '../lib/reports/format';
import { PUSH_RECORD, type PushRecord } from '../lib/reports/records';

/** The push records under dist/images, newest first. */
export function readPushRecords(workspaceRoot: string): PushRecord[] {
  const dir = join(workspaceRoot, 'dist', 'images');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((project) => join(dir, project, PUSH_RECORD))
    .filter((path) => existsSync(path))
    .map((path) => JSON.parse(readFileSync(path, 'utf8')) as PushRecord)
    .sort((a, b) => a.project.localeCompare(b.project));
}

export function pushedTable(records: PushRecord[], format: 'text' | 'markdown' | 'json'): string {
  if (format === 'json') return JSON.stringify(records, null, 2);
  const header = ['image', 'tags', 'digest', 'size', 'scan'];
  const rows = records.map((r) => [
    `${r.registry}/${r.repository}`,
    r.tags.join(', '),
    r.digest.slice(0, 19),
    formatBytes(r.size),
    r.scan.verdict,
  ]);
  return format === 'markdown' ? markdownTable(header, rows) : textTable(header, rows);
}
