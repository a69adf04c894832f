import { formatBytes, markdownTable, textTable } from '../lib/reports/format';
import { readPushRecords, type PushRecord } from '../lib/reports/records';

export { readPushRecords };

/**
 * The final table of a pipeline run: for each pushed image its scan verdict with counts, and
 * what its digest carries (SBOM, signature, SLSA provenance), from push.json. A record written
 * before docker-push recorded the supply chain shows `?`: unknown, not absent.
 */
export function pushedTable(records: PushRecord[], format: 'text' | 'markdown' | 'json'): string {
  if (format === 'json') return JSON.stringify(records, null, 2);
  const header = ['image', 'tags', 'digest', 'size', 'scan', 'sbom', 'signature', 'provenance'];
  const rows = records.map((r) => [
    `${r.registry}/${r.repository}`,
    r.tags.join(', '),
    r.digest.slice(0, 19),
    formatBytes(r.size),
    scanCell(r.scan),
    r.supplyChain ? (r.supplyChain.sbom.status === 'attached' ? 'CycloneDX' : 'missing') : '?',
    r.supplyChain ? signatureCell(r.supplyChain.signature) : '?',
    r.supplyChain ? (r.supplyChain.provenance.status === 'attested' ? 'SLSA v1' : r.supplyChain.provenance.status) : '?',
  ]);
  return format === 'markdown' ? markdownTable(header, rows) : textTable(header, rows);
}

/**
 * `pass (0 critical, 2 high)`. An image with no vulnerability scan names why and what to do
 * (`not-scanned: no vulnerability database: serve one with …`); its counts would read as a clean
 * scan, so they are not shown. A record from before the cause was recorded says that.
 */
export function scanCell(scan: PushRecord['scan']): string {
  if (scan.cause) return `${scan.verdict}: ${scan.cause}`;
  if (scan.verdict === 'not-scanned') return 'not-scanned (cause not recorded)';
  if (scan.critical === undefined && scan.high === undefined) return scan.verdict;
  return `${scan.verdict} (${scan.critical ?? 0} critical, ${scan.high ?? 0} high)`;
}

function signatureCell(signature: NonNullable<PushRecord['supplyChain']>['signature']): string {
  switch (signature.status) {
    case 'signed':
      return signature.detail?.startsWith('the local key pair') ? 'signed (local key)' : 'signed';
    case 'unsigned':
      return 'unsigned';
    case 'off':
      return 'off';
    default: {
      const unhandled: never = signature.status;
      return String(unhandled);
    }
  }
}
