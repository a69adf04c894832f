import type { Severity } from '../config/options';

// config/options' SEVERITIES, spelt here so the scanner adapters load without the options'
// schema validator (the scan fingerprint loads them on every scan task); parsers.spec.ts checks both agree.
const SEVERITIES: readonly Severity[] = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

/**
 * Maps a scanner's severity label onto ours. Grype's `Negligible` sits below `Low` in its own
 * ordering, so it becomes LOW rather than UNKNOWN (UNKNOWN means "not rated", which is worse).
 */
export function normalizeSeverity(label: unknown): Severity {
  const upper = String(label ?? '').trim().toUpperCase();
  if (upper === 'NEGLIGIBLE') return 'LOW';
  return (SEVERITIES as readonly string[]).includes(upper) ? (upper as Severity) : 'UNKNOWN';
}

/** CRITICAL first, UNKNOWN last: the order people read reports in. */
export const SEVERITY_ORDER: readonly Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];

export function severityRank(severity: Severity): number {
  return SEVERITY_ORDER.indexOf(severity);
}

export function emptyCounts(): Record<Severity, number> {
  return { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 };
}
