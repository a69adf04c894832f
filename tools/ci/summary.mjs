#!/usr/bin/env node
// Prints a Markdown summary of the images under dist/images/ for $GITHUB_STEP_SUMMARY:
// one row per image with its size, scan verdict and, when it was pushed, version, tags and digest.
// Reads image.json (ImageRecord), scan/report.json (its `verdict`) and push.json (PushRecord) —
// see libs/registry-plugin/src/lib/reports/records.ts. Any of them may be missing (a build that
// failed, an image that was not pushed); a missing or unreadable file shows as "—", never a crash.
//
//   node tools/ci/summary.mjs [--title <text>] [--dir <dist/images>]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const VERDICT = { pass: '✅ pass', warn: '⚠️ warn', blocked: '⛔ blocked', 'not-scanned': '➖ not scanned' };

function parseArgs(argv) {
  const args = { title: 'Images', dir: 'dist/images' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--title') args.title = argv[++i] ?? args.title;
    else if (argv[i] === '--dir') args.dir = argv[++i] ?? args.dir;
  }
  return args;
}

/** Parsed JSON, or { error } when the file exists but cannot be read, or undefined when absent. */
function readJson(file) {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const cell = (text) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text) => (text ? `\`${cell(text)}\`` : '—');

export function collect(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory())
    .sort()
    .map((project) => ({
      project,
      image: readJson(join(dir, project, 'image.json')),
      scan: readJson(join(dir, project, 'scan', 'report.json')),
      push: readJson(join(dir, project, 'push.json')),
    }))
    .filter((row) => row.image || row.scan || row.push);
}

function verdictOf(row) {
  const verdict = row.scan?.verdict ?? row.push?.scan?.verdict;
  if (row.scan?.error) return '❓ unreadable report';
  if (!verdict) return '—';
  const counts = row.push?.scan;
  const detail =
    counts && (counts.critical !== undefined || counts.high !== undefined)
      ? ` (${counts.critical ?? 0} critical, ${counts.high ?? 0} high)`
      : '';
  return `${VERDICT[verdict] ?? cell(verdict)}${detail}`;
}

export function render(rows, title) {
  const lines = [`## ${title}`, ''];
  if (rows.length === 0) {
    lines.push('No image was built in this run.', '');
    return lines.join('\n');
  }
  lines.push('| Image | Size | Platforms | Scan | Version | Tags | Digest |', '|---|---|---|---|---|---|---|');
  const problems = [];
  for (const row of rows) {
    const { image, push } = row;
    for (const [file, value] of [['image.json', image], ['scan/report.json', row.scan], ['push.json', push]]) {
      if (value?.error) problems.push(`- \`${row.project}/${file}\`: ${cell(value.error)}`);
    }
    const okImage = image && !image.error ? image : undefined;
    const okPush = push && !push.error ? push : undefined;
    const name = okPush ? `${okPush.registry}/${okPush.repository}` : row.project;
    const pushed = okPush ? (okPush.dryRun ? ' (dry run)' : '') : ' (not pushed)';
    const platforms = okPush?.platforms ?? okImage?.platforms;
    lines.push(
      [
        '',
        `**${cell(name)}**${pushed}`,
        formatBytes(okPush?.size ?? okImage?.size),
        Array.isArray(platforms) && platforms.length ? cell(platforms.join(', ')) : '—',
        verdictOf(row),
        cell(okPush?.version ?? okImage?.version ?? '—'),
        Array.isArray(okPush?.tags) && okPush.tags.length ? okPush.tags.map(code).join(' ') : '—',
        code(okPush?.digest ?? okImage?.digest),
        '',
      ]
        .join(' | ')
        .trim(),
    );
  }
  lines.push('');
  if (problems.length) lines.push('Unreadable records:', '', ...problems, '');
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { title, dir } = parseArgs(process.argv.slice(2));
  process.stdout.write(render(collect(dir), title) + '\n');
}
