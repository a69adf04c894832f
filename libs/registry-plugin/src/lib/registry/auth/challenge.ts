import type { Scope } from './types';

/**
 * `WWW-Authenticate` parsing (RFC 9110 §11.6.1): one header may hold several challenges, each a
 * scheme followed by either a token68 or comma-separated `name=value` params whose values may be
 * quoted strings containing commas, spaces and backslash escapes. Servers (and undici's
 * `Headers.get`, which joins repeated headers with ", ") produce all of these shapes.
 */
export interface Challenge {
  /** Lower-cased auth scheme: `basic`, `bearer`, … */
  scheme: string;
  /** Lower-cased param names → unquoted values. */
  params: Record<string, string>;
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

export function parseChallenges(header: string | null | undefined): Challenge[] {
  const text = header ?? '';
  const challenges: Challenge[] = [];
  let pos = 0;

  const skip = (chars: RegExp) => {
    while (pos < text.length && chars.test(text[pos])) pos++;
  };
  const readToken = (): string => {
    const start = pos;
    while (pos < text.length && TCHAR.test(text[pos])) pos++;
    return text.slice(start, pos);
  };
  const readUntil = (stop: RegExp): string => {
    const start = pos;
    while (pos < text.length && !stop.test(text[pos])) pos++;
    return text.slice(start, pos);
  };
  const readQuoted = (): string => {
    // Caller has checked text[pos] === '"'.
    pos++;
    let out = '';
    while (pos < text.length && text[pos] !== '"') {
      if (text[pos] === '\\' && pos + 1 < text.length) pos++;
      out += text[pos++];
    }
    pos++; // closing quote (or end of input for an unterminated string)
    return out;
  };
  /** At `pos`, is there `token BWS "="` (an auth-param) rather than a new challenge's scheme? */
  const atParam = (): boolean => {
    const save = pos;
    const name = readToken();
    skip(/[ \t]/);
    const isParam = name.length > 0 && text[pos] === '=';
    pos = save;
    return isParam;
  };

  while (pos < text.length) {
    skip(/[\s,]/);
    const scheme = readToken();
    if (!scheme) {
      // Not a token: skip one character so garbage cannot loop forever.
      if (pos < text.length) pos++;
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    skip(/[ \t]/);

    const rest = text.slice(pos);
    const t68 = TOKEN68.exec(rest);
    if (t68 && !atParam()) {
      const after = rest.slice(t68[0].length).trimStart();
      if (after === '' || after.startsWith(',')) {
        challenge.token68 = t68[0];
        pos += t68[0].length;
        continue;
      }
    }

    // A Map, then own properties: a param named `constructor` or `__proto__` is just a param.
    const params = new Map<string, string>();
    while (pos < text.length) {
      skip(/[\s,]/);
      if (!atParam()) break;
      const name = readToken().toLowerCase();
      skip(/[ \t]/);
      pos++; // '='
      skip(/[ \t]/);
      // Unquoted values should be tokens, but some servers send bare URLs (`realm=https://…`);
      // accept anything up to the next comma or space.
      const value = text[pos] === '"' ? readQuoted() : readUntil(/[,\s]/);
      // First occurrence wins; a duplicated param is invalid per RFC 9110 anyway.
      if (!params.has(name)) params.set(name, value);
      skip(/[ \t]/);
    }
    challenge.params = Object.fromEntries(params);
  }
  return challenges;
}

/** A parsed resource scope: `repository:auren/api:pull,push`. */
export interface ParsedScope {
  type: string;
  name: string;
  actions: string[];
}

/**
 * Parses `type:name:actions`. The name may itself contain ':' (`repository:host:5000/x:pull`
 * is legal in the token spec's grammar), so the type is before the first ':' and the actions
 * after the last one.
 */
export function parseScope(scope: Scope): ParsedScope | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const actions = scope
    .slice(last + 1)
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

/**
 * Merges scopes (from the caller and from the challenge's `scope` param, which may hold several
 * space-separated scopes) into a canonical, sorted list with one entry per resource and sorted,
 * de-duplicated actions, so equal sets give equal cache keys.
 */
export function normalizeScopes(scopes: readonly Scope[]): Scope[] {
  const byResource = new Map<string, Set<string>>();
  const passthrough = new Set<string>();
  for (const raw of scopes.flatMap((s) => s.split(/\s+/)).filter(Boolean)) {
    const parsed = parseScope(raw);
    if (!parsed) {
      passthrough.add(raw);
      continue;
    }
    const key = `${parsed.type}:${parsed.name}`;
    const set = byResource.get(key) ?? new Set<string>();
    parsed.actions.forEach((a) => set.add(a));
    byResource.set(key, set);
  }
  const merged = [...byResource].map(([key, actions]) => `${key}:${[...actions].sort().join(',')}`);
  return [...merged, ...passthrough].sort();
}

/** True when every action of every scope in `wanted` is granted by some scope in `held`. */
export function scopesCover(held: readonly Scope[], wanted: readonly Scope[]): boolean {
  const heldMap = new Map<string, Set<string>>();
  for (const scope of held) {
    const parsed = parseScope(scope);
    if (!parsed) continue;
    const key = `${parsed.type}:${parsed.name}`;
    const set = heldMap.get(key) ?? new Set<string>();
    parsed.actions.forEach((a) => set.add(a));
    heldMap.set(key, set);
  }
  return wanted.every((scope) => {
    const parsed = parseScope(scope);
    if (!parsed) return held.includes(scope);
    const set = heldMap.get(`${parsed.type}:${parsed.name}`);
    return !!set && (set.has('*') || parsed.actions.every((a) => set.has(a)));
  });
}
