// Who may read and write which scope of the cache. A token is known only by its SHA-256, so the
// configuration file holds no secret and nothing here ever has a token to print: messages name a
// token by its label (`read-token-2`, or the `name` in the configuration file).
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

/** The scope trusted jobs write and everyone reads when tokens come from the environment. */
export const TRUSTED_SCOPE = 'trusted';

/** A scope becomes a folder name: lower-case letters, digits and dashes, nothing else. */
export const SCOPE = /^[a-z0-9][a-z0-9-]{0,62}$/;

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;
// Visible ASCII, no comma (the environment lists are comma-separated): what a bearer header carries.
const TOKEN = /^[\x21-\x2b\x2d-\x7e]+$/;
const MIN_TOKEN_LENGTH = 16;
const MAX_CONFIG_BYTES = 64 * 1024;

export class ConfigError extends Error {}

const HINT =
  'Give the trusted jobs (main, releases) a token in NX_CACHE_WRITE_TOKENS and everyone else (pull requests, laptops) ' +
  'one in NX_CACHE_READ_TOKENS, or map tokens to scopes with --config (see tools/nx-cache-server/README.md).';

export const digestOf = (token) => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * Every token the server accepts, by digest: `{ name, read: scope[], write: scope | null }`.
 * Tokens come from NX_CACHE_READ_TOKENS / NX_CACHE_WRITE_TOKENS (comma-separated) and from the
 * configuration file; a token listed twice is refused rather than given the larger grant.
 */
export function loadGrants(env, configPath) {
  const entries = [
    ...tokensFrom(env.NX_CACHE_READ_TOKENS, 'read-token').map(({ name, token }) => ({ name, digest: digestOf(token), read: [TRUSTED_SCOPE], write: null })),
    ...tokensFrom(env.NX_CACHE_WRITE_TOKENS, 'write-token').map(({ name, token }) => ({ name, digest: digestOf(token), read: [TRUSTED_SCOPE], write: TRUSTED_SCOPE })),
    ...(configPath ? grantsFromFile(configPath) : []),
  ];
  if (entries.length === 0) throw new ConfigError(`no tokens. ${HINT}`);
  const grants = new Map();
  for (const { digest, ...grant } of entries) {
    const other = grants.get(digest);
    if (other) throw new ConfigError(`${other.name} and ${grant.name} are the same token; a token is either read-only or read-write. ${HINT}`);
    grants.set(digest, grant);
  }
  return grants;
}

function tokensFrom(list, label) {
  const tokens = (list ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  return tokens.map((token, i) => {
    const name = `${label}-${i + 1}`;
    if (!TOKEN.test(token)) throw new ConfigError(`${name} has characters a bearer token cannot carry (use visible ASCII, no comma or space). ${HINT}`);
    if (token.length < MIN_TOKEN_LENGTH) throw new ConfigError(`${name} is shorter than ${MIN_TOKEN_LENGTH} characters; use a random secret, e.g. \`openssl rand -hex 32\`. ${HINT}`);
    return { name, token };
  });
}

function grantsFromFile(path) {
  const where = `--config ${path}`;
  let text;
  try {
    if (statSync(path).size > MAX_CONFIG_BYTES) throw new ConfigError(`${where}: larger than ${MAX_CONFIG_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${where}: cannot be read (${error.code ?? error.message})`);
  }
  let config;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${where}: not JSON (${error.message})`);
  }
  const shape = '{ "tokens": [{ "name", "sha256", "read": [scope…], "write"?: scope }] }';
  if (!isObject(config) || !Array.isArray(config.tokens) || Object.keys(config).some((k) => k !== 'tokens')) throw new ConfigError(`${where}: expected ${shape}`);
  const names = new Set();
  return config.tokens.map((entry, i) => {
    const at = `${where}: tokens[${i}]`;
    if (!isObject(entry)) throw new ConfigError(`${at}: expected ${shape}`);
    const unknown = Object.keys(entry).filter((k) => !['name', 'sha256', 'read', 'write'].includes(k));
    if (unknown.length) throw new ConfigError(`${at}: unknown ${unknown.map((k) => `"${k}"`).join(', ')} (a token is given by its "sha256", never in clear)`);
    if (typeof entry.name !== 'string' || !NAME.test(entry.name)) throw new ConfigError(`${at}: "name" must match ${NAME}`);
    if (names.has(entry.name)) throw new ConfigError(`${at}: a second token named "${entry.name}"`);
    names.add(entry.name);
    if (typeof entry.sha256 !== 'string' || !SHA256.test(entry.sha256)) throw new ConfigError(`${at}: "sha256" must be the token's SHA-256 in lower-case hex (\`printf %s "$TOKEN" | sha256sum\`)`);
    if (!Array.isArray(entry.read) || entry.read.length === 0 || !entry.read.every((s) => typeof s === 'string' && SCOPE.test(s))) {
      throw new ConfigError(`${at}: "read" must list the scopes it reads, in order, each matching ${SCOPE}`);
    }
    if (entry.write !== undefined && (typeof entry.write !== 'string' || !SCOPE.test(entry.write))) throw new ConfigError(`${at}: "write" must be one scope matching ${SCOPE}`);
    return { name: entry.name, digest: entry.sha256, read: [...new Set(entry.read)], write: entry.write ?? null };
  });
}

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The grant behind an Authorization header: `{ kind: 'granted', grant }`, or `missing` (no bearer
 * token) or `unknown` (a token the server does not know). Only the token's digest is looked up.
 */
export function authorize(grants, header) {
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header ?? '');
  if (!match) return { kind: 'missing' };
  const grant = grants.get(digestOf(match[1]));
  return grant ? { kind: 'granted', grant } : { kind: 'unknown' };
}
