import { formatBytes } from '../reports/format';
import type { MonitorThresholds } from './options';
import { runnablePlatforms, type ImageReport, type MonitorReport } from './report';
import { formatValue, METRIC_TITLES } from './render-text';

/**
 * One self-contained HTML file: inline CSS, SVG charts drawn here, and a few lines of inline
 * script for hover details. No external asset, so it can be attached to a CI run or mailed.
 */
const esc = (value: unknown) =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const SERIES_COLORS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2'];
const SEVERITY_COLORS: Record<string, string> = { CRITICAL: '#7f1d1d', HIGH: '#dc2626', MEDIUM: '#f59e0b', LOW: '#84cc16', UNKNOWN: '#9ca3af' };
const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

/** Image size per version over time for one app: one line per platform, a point per image. */
export function sizeHistoryChart(app: string, images: ImageReport[], thresholds: MonitorThresholds): string {
  const W = 640, H = 260, L = 70, R = 20, T = 20, B = 40;
  const dated = images
    .map((image, i) => ({ image, t: image.created ? Date.parse(image.created) : NaN, i }))
    .map((d) => ({ ...d, t: Number.isNaN(d.t) ? d.i : d.t }))
    .sort((a, b) => a.t - b.t);
  const platforms = [...new Set(dated.flatMap((d) => runnablePlatforms(d.image.platforms).map((p) => p.platform)))].sort();
  const maxSize = niceMax(Math.max(1, ...dated.flatMap((d) => d.image.platforms.map((p) => p.sizeBytes))));
  const tMin = dated[0]?.t ?? 0;
  const tMax = dated[dated.length - 1]?.t ?? 1;
  const x = (t: number) => (tMax === tMin ? L + (W - L - R) / 2 : L + ((t - tMin) / (tMax - tMin)) * (W - L - R));
  const y = (v: number) => T + (1 - v / maxSize) * (H - T - B);
  const parts: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = (maxSize * k) / 4;
    parts.push(`<line class="grid" x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"/><text class="axis" x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${esc(formatBytes(v))}</text>`);
  }
  for (const [limit, cls] of [[thresholds.imageSize.target, 'target'], [thresholds.imageSize.alert, 'alert']] as const) {
    if (limit <= maxSize) parts.push(`<line class="limit ${cls}" x1="${L}" x2="${W - R}" y1="${y(limit)}" y2="${y(limit)}"><title>${cls} ${esc(formatBytes(limit))}</title></line>`);
  }
  if (dated.length) {
    const fmt = (t: number) => (t > 1e11 ? new Date(t).toISOString().slice(0, 10) : `#${t + 1}`);
    parts.push(`<text class="axis" x="${L}" y="${H - 12}">${esc(fmt(tMin))}</text><text class="axis" x="${W - R}" y="${H - 12}" text-anchor="end">${esc(fmt(tMax))}</text>`);
  }
  platforms.forEach((platform, s) => {
    const color = SERIES_COLORS[s % SERIES_COLORS.length];
    const points = dated
      .map((d) => ({ d, p: d.image.platforms.find((p) => p.platform === platform) }))
      .filter((e): e is { d: (typeof dated)[number]; p: NonNullable<(typeof e)['p']> } => !!e.p);
    if (points.length > 1) {
      parts.push(`<polyline class="series" fill="none" stroke="${color}" points="${points.map((e) => `${x(e.d.t).toFixed(1)},${y(e.p.sizeBytes).toFixed(1)}`).join(' ')}"/>`);
    }
    for (const e of points) {
      const label = `${e.d.image.version ?? e.d.image.tags[0] ?? e.d.image.digest.slice(7, 19)} (${platform}): ${formatBytes(e.p.sizeBytes)}${e.d.image.created ? `, ${e.d.image.created}` : ''}`;
      parts.push(
        `<circle class="point" cx="${x(e.d.t).toFixed(1)}" cy="${y(e.p.sizeBytes).toFixed(1)}" r="4" fill="${color}" data-series="${esc(platform)}" data-version="${esc(e.d.image.version ?? '')}" data-value="${e.p.sizeBytes}"><title>${esc(label)}</title></circle>`,
      );
    }
    parts.push(`<rect x="${L + 8 + s * 130}" y="4" width="10" height="10" fill="${color}"/><text class="legend" x="${L + 22 + s * 130}" y="13">${esc(platform)}</text>`);
  });
  if (!dated.length) parts.push(`<text class="empty" x="${W / 2}" y="${H / 2}" text-anchor="middle">no images</text>`);
  return `<svg data-chart="size-history" data-app="${esc(app)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Image size per version over time for ${esc(app)}">${parts.join('')}</svg>`;
}

/** Vulnerabilities per image: a stacked bar per image with scan data, by severity. */
export function vulnerabilityChart(report: MonitorReport): string {
  const rows = report.repositories.flatMap((repo) =>
    repo.images.filter((i) => i.vulnerabilities).slice(0, 10).map((i) => ({ label: `${repo.app}:${i.version ?? i.tags[0] ?? i.digest.slice(7, 19)}`, image: i })),
  );
  const W = 640, L = 190, R = 50, rowH = 22, T = 24;
  const H = T + Math.max(1, rows.length) * rowH + 10;
  const totals = rows.map((r) => SEVERITIES.reduce((n, s) => n + (r.image.vulnerabilities?.counts[s] ?? 0), 0));
  const max = niceMax(Math.max(1, ...totals));
  const parts: string[] = [];
  SEVERITIES.forEach((s, k) => parts.push(`<rect x="${L + k * 85}" y="4" width="10" height="10" fill="${SEVERITY_COLORS[s]}"/><text class="legend" x="${L + 14 + k * 85}" y="13">${s.toLowerCase()}</text>`));
  rows.forEach((row, r) => {
    const yy = T + r * rowH;
    parts.push(`<text class="axis" x="${L - 6}" y="${yy + 14}" text-anchor="end">${esc(row.label)}</text>`);
    let offset = 0;
    for (const s of SEVERITIES) {
      const count = row.image.vulnerabilities?.counts[s] ?? 0;
      if (!count) continue;
      const w = (count / max) * (W - L - R);
      parts.push(
        `<rect class="bar" x="${(L + offset).toFixed(1)}" y="${yy + 3}" width="${Math.max(1, w).toFixed(1)}" height="${rowH - 6}" fill="${SEVERITY_COLORS[s]}" data-severity="${s}" data-value="${count}"><title>${esc(`${row.label}: ${count} ${s.toLowerCase()}`)}</title></rect>`,
      );
      offset += w;
    }
    // An image scanned clean still gets a (zero) data mark, so "no findings" differs from "no data".
    parts.push(`<text class="count${totals[r] ? '' : ' point-zero'}" x="${(L + offset + 6).toFixed(1)}" y="${yy + 14}" data-value="${totals[r]}">${totals[r]}</text>`);
  });
  if (!rows.length) parts.push(`<text class="empty" x="${W / 2}" y="${T + 14}" text-anchor="middle">no scan data for any image</text>`);
  return `<svg data-chart="vulnerabilities" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Vulnerabilities per image">${parts.join('')}</svg>`;
}

/** Storage used against the quota, with the target and alert levels marked. */
export function storageChart(report: MonitorReport, thresholds: MonitorThresholds): string {
  const W = 640, H = 90, L = 20, R = 20, barY = 30, barH = 28;
  const s = report.storage;
  const width = W - L - R;
  const parts: string[] = [`<rect class="quota" x="${L}" y="${barY}" width="${width}" height="${barH}"><title>quota ${esc(s.quotaBytes !== undefined ? formatBytes(s.quotaBytes) : 'unknown')}</title></rect>`];
  if (s.percent !== undefined && s.quotaBytes !== undefined) {
    const level = s.percent > thresholds.storagePercent.alert ? 'alert' : s.percent >= thresholds.storagePercent.target ? 'warn' : 'ok';
    parts.push(
      `<rect class="bar used ${level}" x="${L}" y="${barY}" width="${Math.max(1, (Math.min(100, s.percent) / 100) * width).toFixed(1)}" height="${barH}" data-value="${s.usedBytes}" data-percent="${s.percent}"><title>${esc(`${formatBytes(s.usedBytes ?? 0)} of ${formatBytes(s.quotaBytes)} (${s.percent}%)`)}</title></rect>`,
    );
    for (const [p, cls] of [[thresholds.storagePercent.target, 'target'], [thresholds.storagePercent.alert, 'alert']] as const) {
      const xx = L + (p / 100) * width;
      parts.push(`<line class="limit ${cls}" x1="${xx}" x2="${xx}" y1="${barY - 6}" y2="${barY + barH + 6}"/><text class="axis" x="${xx}" y="${barY + barH + 20}" text-anchor="middle">${p}%</text>`);
    }
    parts.push(`<text class="legend" x="${L}" y="18">${esc(`${formatBytes(s.usedBytes ?? 0)} used of ${formatBytes(s.quotaBytes)} — ${s.percent}% (${s.basis})`)}</text>`);
  } else {
    parts.push(`<text class="legend" x="${L}" y="18">${esc(`${formatBytes(s.uniqueBlobBytes)} in ${s.uniqueBlobs} blobs; no quota known`)}</text>`);
  }
  return `<svg data-chart="storage" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Storage against quota">${parts.join('')}</svg>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111827;background:#f9fafb}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#6b7280}.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;margin:8px 0;display:inline-block;vertical-align:top}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #e5e7eb;padding:4px 8px;text-align:left}th{background:#f3f4f6}
.level-ok{color:#047857}.level-warn{color:#b45309;font-weight:600}.level-alert{color:#b91c1c;font-weight:700}.level-no-data{color:#6b7280}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600}.badge.ok{background:#059669}.badge.warn{background:#d97706}.badge.alert{background:#dc2626}
svg text{font-size:11px;fill:#374151}svg .grid{stroke:#e5e7eb}svg .series{stroke-width:2}svg .limit{stroke-dasharray:4 3;stroke-width:1.5}
svg .limit.target{stroke:#d97706}svg .limit.alert{stroke:#dc2626}svg .quota{fill:#f3f4f6;stroke:#9ca3af}svg .used.ok{fill:#10b981}svg .used.warn{fill:#f59e0b}svg .used.alert{fill:#dc2626}
svg .point{cursor:pointer}svg .point.hover,svg .bar.hover{stroke:#111827;stroke-width:2}#tip{position:fixed;pointer-events:none;background:#111827;color:#fff;padding:3px 8px;border-radius:4px;font-size:12px;display:none}
`;

/** Counts each chart's data marks (a check the report's own test reads) and adds hover tips. */
const SCRIPT = `
(function(){
  var tip=document.getElementById('tip');var total=0;
  document.querySelectorAll('svg[data-chart]').forEach(function(svg){
    var marks=svg.querySelectorAll('.point,.bar');svg.setAttribute('data-points',String(marks.length));total+=marks.length;
    marks.forEach(function(m){
      m.addEventListener('mouseenter',function(e){m.classList.add('hover');var t=m.querySelector('title');tip.textContent=t?t.textContent:'';tip.style.display='block';});
      m.addEventListener('mousemove',function(e){tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});
      m.addEventListener('mouseleave',function(){m.classList.remove('hover');tip.style.display='none';});
    });
  });
  document.documentElement.setAttribute('data-charts-ready',String(total));
})();
`;

export function renderHtml(report: MonitorReport, thresholds: MonitorThresholds): string {
  const checks = report.checks
    .map(
      (c) =>
        `<tr class="level-${c.level}"><td>${esc(c.level)}</td><td>${esc(METRIC_TITLES[c.metric])}</td><td>${esc(c.subject)}</td><td>${esc(formatValue(c))}</td><td>${esc(c.message)}</td></tr>`,
    )
    .join('');
  const sizeCharts = report.repositories
    .map((repo) => `<div class="card"><h3>${esc(repo.name)}</h3>${sizeHistoryChart(repo.app, repo.images, thresholds)}</div>`)
    .join('');
  const pulls = report.pulls
    .map((p) => `<tr><td>${esc(p.repository)}:${esc(p.reference)}</td><td>${esc(p.platform)}</td><td>${esc(formatBytes(p.bytes))}</td><td>${esc(p.error ?? `${(p.durationMs / 1000).toFixed(2)} s`)}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Registry health — ${esc(report.registry)}</title><style>${CSS}</style></head>
<body>
<h1>Registry health <span class="badge ${esc(report.status)}">${esc(report.status.toUpperCase())}</span></h1>
<div class="meta">${esc(report.registry)} · ${report.repositories.length} repositories · generated ${esc(report.generatedAt)} in ${(report.durationMs / 1000).toFixed(1)} s</div>
<h2>Checks</h2>
<table><thead><tr><th>level</th><th>metric</th><th>subject</th><th>value</th><th>detail</th></tr></thead><tbody>${checks}</tbody></table>
<h2>Storage against quota</h2><div class="card">${storageChart(report, thresholds)}</div>
<h2>Vulnerabilities per image</h2><div class="card">${vulnerabilityChart(report)}</div>
<h2>Image size per version over time</h2>${sizeCharts}
<h2>Pushes (last ${esc(report.pushes.window)})</h2>
<p>${report.pushes.succeeded} succeeded, ${report.pushes.failed} failed${report.pushes.successPercent !== undefined ? ` — ${report.pushes.successPercent}%` : ''}</p>
<h2>Pulls</h2>
<table><thead><tr><th>image</th><th>platform</th><th>bytes</th><th>time</th></tr></thead><tbody>${pulls}</tbody></table>
<div id="tip"></div>
<script>${SCRIPT}</script>
</body></html>
`;
}
