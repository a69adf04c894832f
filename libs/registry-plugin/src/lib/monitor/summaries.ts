import type { PushEvent } from '../history';
import type { PushReport, StorageReport } from './report';

/** The registry-wide figures of a monitor report, summed from what the per-repository walk measured. */
export function storageReport(
  blobs: Map<string, number>,
  disk: StorageReport['disk'],
  provider: StorageReport['provider'],
  quotaBytes: number | undefined,
): StorageReport {
  const uniqueBlobBytes = [...blobs.values()].reduce((a, b) => a + b, 0);
  const base: StorageReport = { uniqueBlobBytes, uniqueBlobs: blobs.size, disk, provider, basis: 'none' };
  const percent = (used: number, quota: number) => Number(((used / quota) * 100).toFixed(2));
  if (provider?.quotaBytes) return { ...base, basis: 'provider', usedBytes: provider.usedBytes, quotaBytes: provider.quotaBytes, percent: percent(provider.usedBytes, provider.quotaBytes) };
  if (quotaBytes) return { ...base, basis: 'quota', usedBytes: uniqueBlobBytes, quotaBytes, percent: percent(uniqueBlobBytes, quotaBytes) };
  if (disk && disk.totalBytes > 0) {
    // Like df: used against used + available (blocks reserved for root are not ours to fill).
    const capacity = disk.usedBytes + disk.freeBytes;
    return { ...base, basis: 'disk', usedBytes: disk.usedBytes, quotaBytes: capacity, percent: percent(disk.usedBytes, capacity) };
  }
  return base;
}

export function pushReport(events: PushEvent[], error: string | undefined, window: string, since: Date): PushReport {
  const succeeded = events.filter((e) => e.outcome === 'success').length;
  const failed = events.length - succeeded;
  const byRepo = new Map<string, { repository: string; succeeded: number; failed: number }>();
  for (const e of events) {
    const r = byRepo.get(e.repository) ?? { repository: e.repository, succeeded: 0, failed: 0 };
    if (e.outcome === 'success') r.succeeded++;
    else r.failed++;
    byRepo.set(e.repository, r);
  }
  return {
    window,
    since: since.toISOString(),
    total: events.length,
    succeeded,
    failed,
    successPercent: events.length ? Number(((succeeded / events.length) * 100).toFixed(2)) : undefined,
    byRepository: [...byRepo.values()].sort((a, b) => a.repository.localeCompare(b.repository)),
    recentFailures: events
      .filter((e) => e.outcome === 'failure')
      .reverse()
      .slice(0, 10)
      .map((e) => ({ at: e.at, repository: e.repository, error: e.error })),
    error,
  };
}
