import { formatBytes } from '../reports/format';
import type { MonitorThresholds } from './options';
import { runnablePlatforms, type Check, type Level, type MonitorReport } from './report';
import { supplyChainChecks } from './supply-chain';

export type Measurements = Pick<MonitorReport, 'registry' | 'reachability' | 'storage' | 'repositories' | 'pushes' | 'pulls'>;

/** Higher is worse: ok below target, alert above the alert level, warn in between. */
export function levelAbove(value: number, target: number, alert: number): Level {
  if (value > alert) return 'alert';
  return value < target ? 'ok' : 'warn';
}

/** Lower is worse (success rates). */
export function levelBelow(value: number, target: number, alert: number): Level {
  if (value < alert) return 'alert';
  return value > target || value === 100 ? 'ok' : 'warn';
}

const pct = (n: number) => `${Number(n.toFixed(2))}%`;
const secs = (n: number) => `${Number(n.toFixed(2))} s`;

function verdict(level: Level): string {
  switch (level) {
    case 'alert':
      return 'ALERT';
    case 'warn':
      return 'misses target';
    case 'ok':
      return 'ok';
    case 'no-data':
      return 'no data';
    default: {
      const unhandled: never = level;
      return unhandled;
    }
  }
}

/** Every threshold of the health table applied to what was measured. Pure; table-tested. */
export function evaluate(m: Measurements, t: MonitorThresholds): Check[] {
  const checks: Check[] = [];
  checks.push(
    m.reachability.reachable
      ? { metric: 'reachability', subject: m.registry, level: 'ok', value: m.reachability.latencyMs, unit: 'ms', message: `registry ${m.registry} answers in ${m.reachability.latencyMs} ms` }
      : { metric: 'reachability', subject: m.registry, level: 'alert', unit: 'bool', value: 0, message: `ALERT: registry ${m.registry} is not reachable: ${m.reachability.error ?? 'no answer'}` },
  );

  for (const repo of m.repositories) {
    const image = repo.images.find((i) => i.digest === repo.newest);
    if (!image) continue;
    const label = `${repo.name}:${image.version ?? image.tags[0] ?? image.digest.slice(0, 19)}`;
    for (const p of runnablePlatforms(image.platforms)) {
      const level = levelAbove(p.sizeBytes, t.imageSize.target, t.imageSize.alert);
      checks.push({
        metric: 'image-size',
        subject: `${repo.name} ${p.platform}`,
        level,
        value: p.sizeBytes,
        unit: 'bytes',
        target: t.imageSize.target,
        alert: t.imageSize.alert,
        message:
          level === 'alert'
            ? `ALERT: image size of ${label} (${p.platform}) is ${formatBytes(p.sizeBytes)}, above the alert level ${formatBytes(t.imageSize.alert)}`
            : `image size of ${label} (${p.platform}) is ${formatBytes(p.sizeBytes)} (target under ${formatBytes(t.imageSize.target)}): ${verdict(level)}`,
      });
    }
    const vulns = image.vulnerabilities;
    if (!vulns || vulns.counts.CRITICAL === undefined) {
      checks.push({
        metric: 'critical-vulnerabilities',
        subject: repo.name,
        level: 'no-data',
        unit: 'count',
        target: 0,
        alert: t.criticalVulnerabilities.alert,
        message: `no scan report or push record with scan counts for ${label} (${image.digest.slice(0, 19)}): run \`nx run ${repo.app}:scan\``,
      });
    } else {
      const critical = vulns.counts.CRITICAL;
      const level: Level = critical > t.criticalVulnerabilities.alert ? 'alert' : critical > 0 ? 'warn' : 'ok';
      checks.push({
        metric: 'critical-vulnerabilities',
        subject: repo.name,
        level,
        value: critical,
        unit: 'count',
        target: 0,
        alert: t.criticalVulnerabilities.alert,
        message:
          level === 'alert'
            ? `ALERT: ${label} has ${critical} critical vulnerabilit${critical === 1 ? 'y' : 'ies'} (from its ${vulns.source}, ${vulns.at})`
            : `${label} has ${critical} critical vulnerabilities: ${verdict(level)}`,
      });
    }
  }

  const s = m.storage;
  if (s.percent === undefined) {
    checks.push({
      metric: 'storage',
      subject: 'registry',
      level: 'no-data',
      unit: 'percent',
      target: t.storagePercent.target,
      alert: t.storagePercent.alert,
      message: `storage: ${formatBytes(s.uniqueBlobBytes)} in ${s.uniqueBlobs} blobs; no quota known (set monitor.quotaBytes or monitor.dataDir)`,
    });
  } else {
    const level = levelAbove(s.percent, t.storagePercent.target, t.storagePercent.alert);
    checks.push({
      metric: 'storage',
      subject: 'registry',
      level,
      value: s.percent,
      unit: 'percent',
      target: t.storagePercent.target,
      alert: t.storagePercent.alert,
      message: `${level === 'alert' ? 'ALERT: ' : ''}storage ${formatBytes(s.usedBytes ?? 0)} of ${formatBytes(s.quotaBytes ?? 0)} (${pct(s.percent)}, ${s.basis}); target under ${t.storagePercent.target}%, alert above ${t.storagePercent.alert}%: ${verdict(level)}`,
    });
  }

  const p = m.pushes;
  if (p.successPercent === undefined) {
    checks.push({
      metric: 'push-success-rate',
      subject: `last ${p.window}`,
      level: p.error ? 'alert' : 'no-data',
      unit: 'percent',
      target: t.pushSuccessPercent.target,
      alert: t.pushSuccessPercent.alert,
      message: p.error ? `ALERT: push history could not be read: ${p.error}` : `no pushes recorded in the last ${p.window}`,
    });
  } else {
    const level = levelBelow(p.successPercent, t.pushSuccessPercent.target, t.pushSuccessPercent.alert);
    checks.push({
      metric: 'push-success-rate',
      subject: `last ${p.window}`,
      level,
      value: p.successPercent,
      unit: 'percent',
      target: t.pushSuccessPercent.target,
      alert: t.pushSuccessPercent.alert,
      message:
        level === 'alert'
          ? `ALERT: push success rate ${pct(p.successPercent)} (${p.succeeded}/${p.total}) in the last ${p.window} is below the alert level ${t.pushSuccessPercent.alert}%`
          : `push success rate ${pct(p.successPercent)} (${p.succeeded}/${p.total}) in the last ${p.window} (target above ${t.pushSuccessPercent.target}%): ${verdict(level)}`,
    });
  }

  for (const pull of m.pulls) {
    if (pull.error) {
      checks.push({ metric: 'pull-latency', subject: pull.repository, level: 'alert', unit: 'seconds', alert: t.pullLatencySeconds.alert, message: `ALERT: pulling ${pull.repository}:${pull.reference} failed: ${pull.error}` });
      continue;
    }
    const seconds = pull.durationMs / 1000;
    const level = levelAbove(seconds, t.pullLatencySeconds.target, t.pullLatencySeconds.alert);
    checks.push({
      metric: 'pull-latency',
      subject: pull.repository,
      level,
      value: seconds,
      unit: 'seconds',
      target: t.pullLatencySeconds.target,
      alert: t.pullLatencySeconds.alert,
      message:
        level === 'alert'
          ? `ALERT: pulling ${pull.repository}:${pull.reference} (${pull.platform}, ${formatBytes(pull.bytes)}) took ${secs(seconds)}, above the alert level ${t.pullLatencySeconds.alert} s`
          : `pull of ${pull.repository}:${pull.reference} (${pull.platform}, ${formatBytes(pull.bytes)}) took ${secs(seconds)} (target under ${t.pullLatencySeconds.target} s): ${verdict(level)}`,
    });
  }
  checks.push(
    ...supplyChainChecks(
      m.repositories.flatMap((repo) => {
        const image = repo.images.find((i) => i.digest === repo.newest);
        return image ? [{ repository: repo, label: `${repo.name}:${image.version ?? image.tags[0] ?? image.digest.slice(0, 19)}`, signed: image.signed, sbom: image.sbom }] : [];
      }),
      t,
    ),
  );
  return checks;
}

/** The metrics that crossed their alert level, named for the exit message. */
export function alerts(checks: readonly Check[]): Check[] {
  return checks.filter((c) => c.level === 'alert');
}
