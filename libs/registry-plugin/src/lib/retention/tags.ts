import semver from 'semver';

/**
 * What a tag is, by the shapes `planTags` (lib/tags/strategy.ts) produces. Retention decides by
 * kind, so a tag the strategy never makes is `other` and is never deleted by age.
 */
export type TagKind =
  | 'release' //       v<semver>
  | 'alias' //         <major>.<minor>, <major>
  | 'latest'
  | 'date' //          YYYYMMDD-HHMM (UTC)
  | 'dev' //           dev
  | 'dev-branch' //    dev-<branch>
  | 'commit' //        <branch>-<sha7> (main-…, develop-…, feature-x-…)
  | 'pull-request' //  pr-…
  | 'other';

const DATE_TAG = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})$/;
const COMMIT_TAG = /^[a-z0-9.]+(?:-[a-z0-9.]+)*-[0-9a-f]{7}$/;

/** Kinds that age out after `devMaxAgeDays`. */
export const AGING_KINDS: readonly TagKind[] = ['date', 'dev', 'dev-branch', 'commit', 'pull-request'];

export function classifyTag(tag: string): TagKind {
  if (tag === 'latest') return 'latest';
  if (tag === 'dev') return 'dev';
  if (tag.startsWith('v') && semver.valid(tag.slice(1)) === tag.slice(1)) return 'release';
  if (/^(0|[1-9]\d*)(\.(0|[1-9]\d*))?$/.test(tag)) return 'alias';
  if (parseDateTag(tag)) return 'date';
  if (tag.startsWith('pr-')) return 'pull-request';
  if (tag.startsWith('dev-')) return 'dev-branch';
  if (COMMIT_TAG.test(tag)) return 'commit';
  return 'other';
}

/** The instant a `YYYYMMDD-HHMM` tag names (UTC), or undefined for anything else. */
export function parseDateTag(tag: string): Date | undefined {
  const m = DATE_TAG.exec(tag);
  if (!m) return undefined;
  const [, y, mo, d, h, mi] = m.map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi));
  // Reject 20241340-2599 and the like: Date.UTC would silently roll them over.
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || date.getUTCHours() !== h || date.getUTCMinutes() !== mi) return undefined;
  return date;
}

/** Shell-style glob over a whole tag: `*` any run of characters, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function matchesAny(tag: string, patterns: readonly RegExp[]): RegExp | undefined {
  return patterns.find((p) => p.test(tag));
}
