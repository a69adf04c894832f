/**
 * The path patterns of hashFiles() and actions/upload-artifact (both @actions/glob underneath):
 * `*` and `?` within one path segment, `**` across segments, a pattern naming a directory takes
 * every file under it, and a line starting with `!` excludes what it matches. Patterns are
 * relative to `root` (the workspace); nothing outside it matches.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

const GLOB = /[*?[]/;

function segmentPattern(segment: string): RegExp {
  let source = '';
  for (const char of segment) {
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function patternRegExp(pattern: string): RegExp {
  const parts = pattern.split('/').filter((part) => part !== '' && part !== '.');
  let source = '';
  parts.forEach((part, index) => {
    const last = index === parts.length - 1;
    if (part === '**') source += last ? '.*' : '(?:[^/]+/)*';
    else source += segmentPattern(part).source.slice(1, -1) + (last ? '' : '/');
  });
  // A directory match takes everything under it.
  return new RegExp(`^${source}(?:/.*)?$`);
}

/** The part of a pattern before its first wildcard segment: where the search starts. */
export function searchPath(root: string, pattern: string): string {
  const parts = pattern.split('/');
  const literal: string[] = [];
  for (const part of parts) {
    if (GLOB.test(part)) break;
    literal.push(part);
  }
  return resolve(root, literal.join('/') || '.');
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile()) out.push(path);
  }
}

/** The files the patterns match, absolute and sorted. */
export function matchFiles(root: string, patterns: string[]): string[] {
  const base = resolve(root);
  const include = patterns.filter((p) => p.trim() && !p.trim().startsWith('!')).map((p) => p.trim());
  const exclude = patterns.filter((p) => p.trim().startsWith('!')).map((p) => patternRegExp(normalise(base, p.trim().slice(1))));
  const found = new Set<string>();
  for (const pattern of include) {
    const relativePattern = normalise(base, pattern);
    if (relativePattern.startsWith('..')) continue;
    const start = searchPath(base, relativePattern);
    if (!existsSync(start)) continue;
    const candidates: string[] = [];
    if (statSync(start).isDirectory()) walk(start, candidates);
    else candidates.push(start);
    const regexp = patternRegExp(relativePattern);
    for (const file of candidates) {
      const rel = relative(base, file).split(sep).join('/');
      if (regexp.test(rel)) found.add(file);
    }
  }
  return [...found].filter((file) => !exclude.some((regexp) => regexp.test(relative(base, file).split(sep).join('/')))).sort();
}

function normalise(base: string, pattern: string): string {
  const absolute = isAbsolute(pattern) ? pattern : join(base, pattern);
  const rel = relative(base, absolute).split(sep).join('/');
  // join() drops a trailing slash's meaning; a directory pattern matches its files anyway.
  return rel === '' ? '**' : rel;
}

/**
 * hashFiles(): the SHA-256 of the SHA-256s of the matched files, in order, or '' when nothing
 * matches (the runner's hashFiles script does the same over @actions/glob's matches).
 */
export function hashFiles(root: string, patterns: string[]): string {
  const files = matchFiles(root, patterns);
  if (!files.length) return '';
  const result = createHash('sha256');
  for (const file of files) result.update(createHash('sha256').update(readFileSync(file)).digest());
  return result.digest('hex');
}
