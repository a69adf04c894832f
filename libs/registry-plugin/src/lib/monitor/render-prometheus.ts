import { runnablePlatforms, type Level, type MonitorReport } from './report';

/**
 * Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), for
 * node_exporter's textfile collector: write to a `*.prom` file atomically (temp + rename).
 * Series are per repository (newest image), not per tag, to keep cardinality bounded.
 */
const LEVEL_VALUE: Record<Level, number> = { 'no-data': -1, ok: 0, warn: 1, alert: 2 };

/** Label values escape `\`, `"` and newlines; HELP text escapes `\` and newlines. */
export const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export function renderPrometheus(report: MonitorReport): string {
  const out: string[] = [];
  const families = new Map<string, { help: string; type: 'gauge'; samples: string[] }>();
  const sample = (name: string, help: string, labels: Record<string, string>, value: number) => {
    let family = families.get(name);
    if (!family) {
      family = { help, type: 'gauge', samples: [] };
      families.set(name, family);
    }
    const entries = Object.entries(labels);
    const labelText = entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
    family.samples.push(`${name}${labelText} ${formatNumber(value)}`);
  };
  const registry = { registry: report.registry };

  sample('auren_registry_up', 'Whether the registry answered GET /v2/ (1) or not (0).', registry, report.reachability.reachable ? 1 : 0);
  if (report.reachability.latencyMs !== undefined) {
    sample('auren_registry_ping_seconds', 'Response time of GET /v2/.', registry, report.reachability.latencyMs / 1000);
  }
  const s = report.storage;
  sample('auren_registry_unique_blob_bytes', 'Bytes of distinct blobs (manifests, configs, layers) referenced by tags.', registry, s.uniqueBlobBytes);
  sample('auren_registry_unique_blobs', 'Number of distinct blobs referenced by tags.', registry, s.uniqueBlobs);
  if (s.usedBytes !== undefined && s.quotaBytes !== undefined && s.percent !== undefined) {
    sample('auren_registry_storage_used_bytes', 'Storage used, counted as the basis label says (provider, quota, disk).', { ...registry, basis: s.basis }, s.usedBytes);
    sample('auren_registry_storage_quota_bytes', 'Storage quota the usage is measured against.', { ...registry, basis: s.basis }, s.quotaBytes);
    sample('auren_registry_storage_used_ratio', 'Storage used as a fraction of the quota.', { ...registry, basis: s.basis }, s.percent / 100);
  }
  for (const repo of report.repositories) {
    sample('auren_registry_repository_tags', 'Tags in the repository.', { ...registry, repository: repo.name }, repo.tagCount);
    sample('auren_registry_repository_images', 'Distinct images (manifest digests) tagged in the repository.', { ...registry, repository: repo.name }, repo.images.length);
    const image = repo.images.find((i) => i.digest === repo.newest);
    if (!image) continue;
    const base = { ...registry, repository: repo.name, version: image.version ?? image.tags[0] ?? '' };
    for (const p of runnablePlatforms(image.platforms)) {
      sample('auren_registry_image_size_bytes', "Compressed size (config + layers) of the repository's newest image, per platform.", { ...base, platform: p.platform }, p.sizeBytes);
    }
    for (const [severity, count] of Object.entries(image.vulnerabilities?.counts ?? {})) {
      if (count === undefined) continue;
      sample('auren_registry_image_vulnerabilities', "Vulnerabilities in the repository's newest image, by severity.", { ...base, severity: severity.toLowerCase() }, count);
    }
  }
  const p = report.pushes;
  sample('auren_registry_pushes', 'Pushes recorded in the history window, by outcome.', { ...registry, window: p.window, outcome: 'success' }, p.succeeded);
  sample('auren_registry_pushes', 'Pushes recorded in the history window, by outcome.', { ...registry, window: p.window, outcome: 'failure' }, p.failed);
  if (p.successPercent !== undefined) {
    sample('auren_registry_push_success_ratio', 'Fraction of pushes in the window that succeeded.', { ...registry, window: p.window }, p.successPercent / 100);
  }
  for (const pull of report.pulls) {
    if (pull.error) continue;
    sample('auren_registry_pull_seconds', "Time of a full pull (manifests, config, layers) of the repository's newest image.", { ...registry, repository: pull.repository, platform: pull.platform }, pull.durationMs / 1000);
    sample('auren_registry_pull_bytes', 'Bytes read by that pull.', { ...registry, repository: pull.repository, platform: pull.platform }, pull.bytes);
  }
  for (const check of report.checks) {
    sample('auren_registry_check_level', 'Health check result: -1 no data, 0 ok, 1 target missed, 2 alert.', { ...registry, metric: check.metric, subject: check.subject }, LEVEL_VALUE[check.level]);
  }
  sample('auren_registry_monitor_last_run_timestamp_seconds', 'When the monitor ran (Unix time).', registry, Math.floor(Date.parse(report.generatedAt) / 1000));
  sample('auren_registry_monitor_duration_seconds', 'How long the monitor run took.', registry, report.durationMs / 1000);

  for (const [name, family] of families) {
    out.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`, ...family.samples);
  }
  return out.join('\n') + '\n';
}
