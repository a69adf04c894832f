import { join } from 'node:path';
import type { Severity } from '../config/options';
import type { PushEvent } from '../history';
import { mapLimit } from '../registry/concurrency';
import { imageDir, readScanReport, recordProjects } from '../reports/records';
import type { VulnerabilityCounts } from './report';

/** An image's vulnerability counts: from the workspace's latest scan report, else from the push history. */
export interface ScanSummary {
  digest: string;
  project: string;
  scannedAt: string;
  counts: Partial<Record<Severity, number>>;
}

/** The fields of scanners/report.ts's CombinedReport the monitor reads, each checked before use. */
interface ScanReportFields {
  vulnerabilityScan?: { status?: string };
  image?: { digest?: unknown; project?: string };
  scannedAt: string;
  gate?: { counts?: ScanSummary['counts'] };
}

/** Every `dist/images/<project>/scan/report.json` that says a vulnerability scan ran. */
export async function readScanReports(workspaceRoot: string): Promise<ScanSummary[]> {
  const reports = await mapLimit(recordProjects(workspaceRoot), 8, async (project) => {
    try {
      const r = readScanReport(join(workspaceRoot, imageDir(project)), project) as ScanReportFields | undefined;
      // A report whose vulnerability scan did not run has zero counts that mean nothing.
      if (r?.vulnerabilityScan?.status !== 'scanned' || typeof r?.image?.digest !== 'string' || !r?.gate?.counts) return undefined;
      return { digest: r.image.digest, project: r.image.project ?? project, scannedAt: r.scannedAt, counts: r.gate.counts } as ScanSummary;
    } catch {
      return undefined;
    }
  });
  return reports.filter((r): r is ScanSummary => !!r);
}

export function vulnerabilitiesOf(digest: string, reports: ScanSummary[], events: PushEvent[]): VulnerabilityCounts | undefined {
  const report = reports.filter((r) => r.digest === digest).sort((a, b) => Date.parse(b.scannedAt) - Date.parse(a.scannedAt))[0];
  if (report) return { source: 'scan-report', at: report.scannedAt, counts: report.counts };
  const event = events
    .filter((e) => e.outcome === 'success' && e.digest === digest && e.scan && e.scan.verdict !== 'not-scanned' && e.scan.critical !== undefined)
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at))[0];
  if (!event?.scan) return undefined;
  const { critical, high, medium, low } = event.scan;
  const counts: Partial<Record<Severity, number>> = { CRITICAL: critical };
  if (high !== undefined) counts.HIGH = high;
  if (medium !== undefined) counts.MEDIUM = medium;
  if (low !== undefined) counts.LOW = low;
  return { source: 'push-history', at: event.at, counts };
}
