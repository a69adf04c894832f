import { formatBytes, markdownTable, textTable } from '../lib/reports/format';
import { readPushRecords, type PushRecord } from '../lib/reports/records';

export { readPushRecords };

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
