import { formatBytes, markdownTable, textTable } from '../reports/format';
import type { Check, Level, MonitorReport } from './report';

export const METRIC_TITLES: Record<Check['metric'], string> = {
  reachability: 'Registry reachable',
  'image-size': 'Image size',
  'critical-vulnerabilities': 'Critical vulnerabilities',
  storage: 'Storage',
  'push-success-rate': 'Push success rate',
  'pull-latency': 'Pull latency',
  'unsigned-images': 'Unsigned images',
  'images-without-sbom': 'Images without SBOM',
};

const MARK: Record<Level, string> = { ok: 'ok', warn: 'WARN', alert: 'ALERT', 'no-data': 'n/a' };
const EMOJI: Record<Level, string> = { ok: '✅', warn: '⚠️', alert: '🚨', 'no-data': '➖' };

export function formatValue(check: Pick<Check, 'unit' | 'value'>): string {
  if (check.value === undefined) return '—';
  switch (check.unit) {
    case 'bytes':
      return formatBytes(check.value);
    case 'percent':
      return `${Number(check.value.toFixed(2))}%`;
    case 'seconds':
      return `${Number(check.value.toFixed(2))} s`;
    case 'ms':
      return `${Math.round(check.value)} ms`;
    case 'count':
      return String(check.value);
    case 'bool':
      return check.value ? 'yes' : 'no';
    default: {
      const unhandled: never = check.unit;
      return String(unhandled);
    }
  }
}

function limit(check: Check, which: 'target' | 'alert'): string {
  const value = check[which];
  if (value === undefined) return '—';
  const op =
    check.metric === 'push-success-rate' ? (which === 'target' ? '> ' : '< ') : check.metric === 'critical-vulnerabilities' && which === 'target' ? '= ' : which === 'target' ? '< ' : '> ';
  return op + formatValue({ unit: check.unit, value });
}

function checkRows(report: MonitorReport, mark: (l: Level) => string): string[][] {
  return report.checks.map((c) => [mark(c.level), METRIC_TITLES[c.metric], c.subject, formatValue(c), limit(c, 'target'), limit(c, 'alert')]);
}

const CHECK_HEADER = ['status', 'metric', 'subject', 'value', 'target', 'alert when'];

function imageRows(report: MonitorReport): string[][] {
  const rows: string[][] = [];
  for (const repo of report.repositories) {
    for (const image of repo.images.slice(0, 5)) {
      const v = image.vulnerabilities?.counts;
      rows.push([
        repo.name,
        image.version ?? image.tags.slice(0, 2).join(', '),
        image.digest.slice(7, 19),
        image.platforms.map((p) => `${p.platform} ${formatBytes(p.sizeBytes)}`).join('; '),
        v ? `C${v.CRITICAL ?? 0} H${v.HIGH ?? '?'} M${v.MEDIUM ?? '?'} L${v.LOW ?? '?'}` : '—',
        image.created?.slice(0, 19).replace('T', ' ') ?? '—',
        image.digest === repo.newest ? 'newest' : '',
      ]);
    }
    if (repo.images.length > 5) rows.push([repo.name, `… ${repo.images.length - 5} older images`, '', '', '', '', '']);
  }
  return rows;
}

const IMAGE_HEADER = ['repository', 'version', 'digest', 'size per platform', 'vulnerabilities', 'created', ''];

function summaryLine(report: MonitorReport): string {
  const alerts = report.checks.filter((c) => c.level === 'alert');
  return alerts.length
    ? `ALERT: ${[...new Set(alerts.map((c) => c.metric))].join(', ')} crossed the alert level`
    : `registry ${report.registry}: ${report.status === 'warn' ? 'healthy, some targets missed' : 'healthy'}`;
}

export function renderText(report: MonitorReport): string {
  const tags = report.repositories.reduce((n, r) => n + r.tagCount, 0);
  return [
    `registry ${report.registry} — ${report.repositories.length} repositories, ${tags} tags, checked in ${(report.durationMs / 1000).toFixed(1)} s (${report.requests} requests)`,
    '',
    textTable(CHECK_HEADER, checkRows(report, (l) => MARK[l])),
    '',
    textTable(IMAGE_HEADER, imageRows(report)),
    '',
    ...report.checks.filter((c) => c.level === 'alert').map((c) => c.message),
    summaryLine(report),
  ].join('\n');
}

/** For $GITHUB_STEP_SUMMARY. */
export function renderMarkdown(report: MonitorReport): string {
  const s = report.storage;
  return [
    `## Registry health: ${EMOJI[report.status]} ${report.status.toUpperCase()}`,
    '',
    `\`${report.registry}\` · ${report.repositories.length} repositories · generated ${report.generatedAt}`,
    '',
    markdownTable(CHECK_HEADER, checkRows(report, (l) => `${EMOJI[l]} ${MARK[l]}`)),
    '',
    `**Storage:** ${formatBytes(s.uniqueBlobBytes)} in ${s.uniqueBlobs} distinct blobs` +
      (s.percent !== undefined ? ` · ${formatBytes(s.usedBytes ?? 0)} of ${formatBytes(s.quotaBytes ?? 0)} (${s.percent}%, ${s.basis})` : ''),
    '',
    `**Pushes (last ${report.pushes.window}):** ${report.pushes.succeeded} succeeded, ${report.pushes.failed} failed`,
    '',
    '<details><summary>Images</summary>',
    '',
    markdownTable(IMAGE_HEADER, imageRows(report)),
    '',
    '</details>',
    '',
  ].join('\n');
}

export function renderJson(report: MonitorReport): string {
  return JSON.stringify(report, null, 2);
}
