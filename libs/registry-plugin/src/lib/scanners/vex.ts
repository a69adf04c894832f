import { mkdir, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { AurenError } from '../errors/errors';
import { globToRegExp } from './glob';
import { isObject } from './report-json';
import type { Finding } from './types';

/**
 * Accepted findings as OpenVEX documents kept in the repository (https://github.com/openvex/spec,
 * v0.2.0). A `not_affected` or `fixed` statement accepts the findings it names, as `scan.ignore`
 * does. The same statements reach Trivy (`--vex`), the gate, and the pushed digest (an
 * attestation), so all three say the same thing.
 *
 * Expiry. OpenVEX has no expiry field, and an acceptance must not outlive its review: a
 * statement applies for VEX_VALIDITY_DAYS from its `timestamp` (the statement's, else the
 * document's, as the spec inherits it), up to and including that day (UTC), like an ignore
 * rule's `expires`. Renewing it means a new timestamp, a reviewed change in git; a consumer of the
 * attestation can recompute the window from the signed statement alone. Expired statements are
 * left out of what Trivy gets and what is attested, and the report lists them.
 *
 * Matching. A statement names its vulnerability (`name`, `@id`, `aliases`) and its products by
 * package URL (`pkg:deb/debian/python3-fastapi`, a version and qualifiers optional), matched as
 * Trivy matches them (type, namespace, name; version and qualifiers when the statement gives
 * them). Within a document the newest matching statement decides; a finding is accepted when any
 * document's decision is not_affected or fixed. An image product (`pkg:oci/…`) is refused: Trivy
 * cannot match it when it scans the built layout, and the two would disagree.
 */

export const VEX_VALIDITY_DAYS = 180;
/** Outside input: a document larger than this is refused before it is read. */
export const VEX_MAX_BYTES = 1024 * 1024;
const VEX_MAX_STATEMENTS = 5_000;
const VEX_MAX_FILES = 200;
/** Clocks disagree a little; a statement dated further ahead would stretch its own window. */
const FUTURE_SLACK_MS = 24 * 3600 * 1000;

export type VexStatus = 'not_affected' | 'affected' | 'fixed' | 'under_investigation';
const STATUSES: readonly VexStatus[] = ['not_affected', 'affected', 'fixed', 'under_investigation'];
const JUSTIFICATIONS = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
];

export interface VexStatement {
  /** The document's file, relative to the workspace root. */
  file: string;
  /** Position in the document's `statements` (0-based), for messages. */
  index: number;
  vulnerability: string;
  /** `@id` and `aliases` of the vulnerability. */
  aliases: string[];
  /** Package URLs of the products (and their subcomponents) the statement covers. */
  products: string[];
  status: VexStatus;
  justification?: string;
  impactStatement?: string;
  /** RFC 3339: the statement's, else the document's. */
  timestamp: string;
  /** The last day (UTC, YYYY-MM-DD) it applies. */
  expires: string;
}

export interface VexDocument {
  /** Relative to the workspace root. */
  file: string;
  id: string;
  author: string;
  /** The document as written, statements as in `raw.statements`. */
  raw: Record<string, unknown>;
  statements: VexStatement[];
}

export interface VexSelection {
  /** Each document with only its statements in force; documents left with none are dropped. */
  inForce: VexDocument[];
  expired: VexStatement[];
}

function vexError(file: string, message: string): AurenError {
  return new AurenError(
    'config',
    `OpenVEX document ${file}: ${message}`,
    'Fix the document (https://github.com/openvex/spec, v0.2.0) or remove it from scan.vex in nx.json. vexctl (github.com/openvex/vexctl) writes valid ones.',
  );
}

const isRfc3339 = (value: unknown): value is string =>
  typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !Number.isNaN(Date.parse(value));

export function expiryDay(timestamp: string): string {
  return new Date(Date.parse(timestamp) + VEX_VALIDITY_DAYS * 24 * 3600 * 1000).toISOString().slice(0, 10);
}

/** A package URL (https://github.com/package-url/purl-spec), the parts Trivy compares. */
export interface Purl {
  type: string;
  namespace: string;
  name: string;
  version?: string;
  qualifiers: Record<string, string>;
}

export function parsePurl(text: string): Purl | undefined {
  if (!text.startsWith('pkg:')) return undefined;
  let rest = text.slice(4).replace(/^\/+/, '');
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  const qualifiers: Record<string, string> = {};
  const question = rest.indexOf('?');
  if (question !== -1) {
    for (const pair of rest.slice(question + 1).split('&').filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) return undefined;
      qualifiers[pair.slice(0, eq).toLowerCase()] = safeDecode(pair.slice(eq + 1));
    }
    rest = rest.slice(0, question);
  }
  let version: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at > rest.lastIndexOf('/')) {
    version = safeDecode(rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  const parts = rest.split('/').filter(Boolean).map(safeDecode);
  if (parts.length < 2) return undefined;
  const type = parts[0].toLowerCase();
  return { type, namespace: parts.slice(1, -1).join('/'), name: parts[parts.length - 1], ...(version ? { version } : {}), qualifiers };
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** As go-vex's PurlMatches: the statement's version and qualifiers, when given, must be the package's. */
export function purlMatches(statementPurl: string, packagePurl: string): boolean {
  const a = parsePurl(statementPurl);
  const b = parsePurl(packagePurl);
  if (!a || !b) return false;
  if (a.type !== b.type || a.namespace !== b.namespace || a.name !== b.name) return false;
  if (a.version && a.version !== b.version) return false;
  return Object.entries(a.qualifiers).every(([k, v]) => b.qualifiers[k] === v);
}

/** Checks one parsed document against the spec's required fields; `file` names it in errors. */
export function parseVexDocument(text: string, file: string, now: Date): VexDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw vexError(file, `not JSON (${(error as Error).message})`);
  }
  if (!isObject(doc)) throw vexError(file, 'not a JSON object');
  const context = doc['@context'];
  if (typeof context !== 'string' || !context.startsWith('https://openvex.dev/ns')) throw vexError(file, '"@context" is not https://openvex.dev/ns/…: not an OpenVEX document');
  for (const field of ['@id', 'author'] as const) {
    if (typeof doc[field] !== 'string' || !(doc[field] as string).trim()) throw vexError(file, `"${field}" is missing`);
  }
  if (!isRfc3339(doc['timestamp'])) throw vexError(file, '"timestamp" is missing or not an RFC 3339 time');
  const statements = doc['statements'];
  if (!Array.isArray(statements) || statements.length === 0) throw vexError(file, '"statements" is missing or empty');
  if (statements.length > VEX_MAX_STATEMENTS) throw vexError(file, `${statements.length} statements; at most ${VEX_MAX_STATEMENTS} are read`);
  const docTimestamp = doc['timestamp'] as string;
  const parsed = statements.map((raw, index) => parseStatement(raw, index, file, docTimestamp, now));
  return { file, id: doc['@id'] as string, author: doc['author'] as string, raw: doc, statements: parsed };
}

function parseStatement(raw: unknown, index: number, file: string, docTimestamp: string, now: Date): VexStatement {
  const where = `statement ${index + 1}`;
  if (!isObject(raw)) throw vexError(file, `${where} is not an object`);
  const vuln = raw['vulnerability'];
  if (!isObject(vuln) || typeof vuln['name'] !== 'string' || !vuln['name']) throw vexError(file, `${where}: "vulnerability.name" is missing`);
  const aliases = [vuln['@id'], ...(Array.isArray(vuln['aliases']) ? vuln['aliases'] : [])].filter((a): a is string => typeof a === 'string' && a.length > 0);
  const status = raw['status'];
  if (typeof status !== 'string' || !STATUSES.includes(status as VexStatus)) throw vexError(file, `${where}: "status" must be one of ${STATUSES.join(', ')}`);
  const justification = typeof raw['justification'] === 'string' ? raw['justification'] : undefined;
  const impactStatement = typeof raw['impact_statement'] === 'string' && raw['impact_statement'].trim() ? raw['impact_statement'] : undefined;
  if (justification !== undefined && !JUSTIFICATIONS.includes(justification)) throw vexError(file, `${where}: "justification" must be one of ${JUSTIFICATIONS.join(', ')}`);
  if (status === 'not_affected' && !justification && !impactStatement) {
    throw vexError(file, `${where} (${vuln['name']}): not_affected needs a "justification" or an "impact_statement" saying why`);
  }
  const products = raw['products'];
  if (!Array.isArray(products) || products.length === 0) throw vexError(file, `${where} (${vuln['name']}): "products" is missing or empty`);
  const purls: string[] = [];
  for (const product of products) {
    const id = isObject(product) ? product['@id'] : undefined;
    if (typeof id !== 'string' || !parsePurl(id)) throw vexError(file, `${where} (${vuln['name']}): every product needs an "@id" that is a package URL (pkg:deb/debian/<package>)`);
    if (parsePurl(id)?.type === 'oci') {
      throw vexError(file, `${where} (${vuln['name']}): the product ${id} is an image; name the package instead (e.g. pkg:deb/debian/<package>), which Trivy matches when it scans the built layout`);
    }
    purls.push(id);
  }
  const own = raw['timestamp'];
  if (own !== undefined && !isRfc3339(own)) throw vexError(file, `${where} (${vuln['name']}): "timestamp" is not an RFC 3339 time`);
  const timestamp = (own as string | undefined) ?? docTimestamp;
  if (Date.parse(timestamp) > now.getTime() + FUTURE_SLACK_MS) {
    throw vexError(file, `${where} (${vuln['name']}): its timestamp ${timestamp} is in the future, which would stretch the ${VEX_VALIDITY_DAYS} days it applies`);
  }
  return {
    file,
    index,
    vulnerability: vuln['name'],
    aliases,
    products: purls,
    status: status as VexStatus,
    ...(justification ? { justification } : {}),
    ...(impactStatement ? { impactStatement } : {}),
    timestamp,
    expires: expiryDay(timestamp),
  };
}

/** Paths and globs relative to the workspace root; nothing outside it. */
async function expand(patterns: readonly string[], workspaceRoot: string): Promise<string[]> {
  const files = new Set<string>();
  for (const pattern of patterns) {
    const clean = normalize(pattern).split(sep).join('/');
    if (isAbsolute(pattern) || clean === '..' || clean.startsWith('../')) {
      throw new AurenError('config', `scan.vex: ${pattern} is outside the workspace`, 'List OpenVEX documents kept in the repository, relative to the workspace root.');
    }
    if (!/[*?]/.test(clean)) {
      files.add(clean);
      continue;
    }
    const segments = clean.split('/');
    const fixed = segments.slice(0, segments.findIndex((s) => /[*?]/.test(s))).join('/');
    const re = globToRegExp(clean);
    for (const file of await walk(join(workspaceRoot, fixed), fixed)) if (re.test(file)) files.add(file);
  }
  if (files.size > VEX_MAX_FILES) throw new AurenError('config', `scan.vex names ${files.size} files; at most ${VEX_MAX_FILES} are read`, 'Narrow the globs in scan.vex.');
  return [...files].sort();
}

async function walk(dir: string, rel: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.name === 'node_modules' || entry.name === '.git') continue;
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await walk(join(dir, entry.name), path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Reads and checks every document `scan.vex` names. A missing, oversized or invalid one is an error naming it. */
export async function loadVexDocuments(patterns: readonly string[], workspaceRoot: string, now: Date): Promise<VexDocument[]> {
  const docs: VexDocument[] = [];
  for (const file of await expand(patterns, workspaceRoot)) {
    const path = join(workspaceRoot, file);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw vexError(file, 'no such file (scan.vex in nx.json names it)');
    // A link out of the workspace would make a file nobody reviews in git an accepted risk.
    const real = await realpath(path);
    const root = await realpath(workspaceRoot);
    if (relative(root, real).startsWith('..') || isAbsolute(relative(root, real))) throw vexError(file, `links to ${real}, outside the workspace`);
    if (info.size > VEX_MAX_BYTES) throw vexError(file, `${info.size} bytes; at most ${VEX_MAX_BYTES} are read`);
    const text = await readFile(path, 'utf8');
    if (Buffer.byteLength(text) > VEX_MAX_BYTES) throw vexError(file, `more than ${VEX_MAX_BYTES} bytes`);
    docs.push(parseVexDocument(text, relative(workspaceRoot, path).split(sep).join('/'), now));
  }
  return docs;
}

/** The statements in force on `now`'s day (UTC), and those past their window. */
export function selectInForce(docs: readonly VexDocument[], now: Date): VexSelection {
  const day = now.toISOString().slice(0, 10);
  const expired: VexStatement[] = [];
  const inForce: VexDocument[] = [];
  for (const doc of docs) {
    const keep = doc.statements.filter((s) => day <= s.expires);
    expired.push(...doc.statements.filter((s) => day > s.expires));
    if (keep.length === 0) continue;
    const rawStatements = doc.raw['statements'] as unknown[];
    inForce.push({ ...doc, statements: keep, raw: { ...doc.raw, statements: keep.map((s) => rawStatements[s.index]) } });
  }
  return { inForce, expired };
}

const same = (a: string, b: string) => a.toUpperCase() === b.toUpperCase();

export function statementMatches(statement: VexStatement, finding: Pick<Finding, 'id' | 'aliases' | 'purl'>): boolean {
  const ids = [finding.id, ...(finding.aliases ?? [])];
  const names = [statement.vulnerability, ...statement.aliases];
  if (!ids.some((id) => names.some((n) => same(id, n)))) return false;
  return !!finding.purl && statement.products.some((p) => purlMatches(p, finding.purl as string));
}

/**
 * The statement that accepts `finding`, if any: per document the newest matching statement
 * decides (a later `affected` overrides an earlier `not_affected`), as Trivy reads OpenVEX.
 */
export function vexAcceptance(finding: Pick<Finding, 'id' | 'aliases' | 'purl'>, docs: readonly VexDocument[]): VexStatement | undefined {
  for (const doc of docs) {
    const matching = doc.statements.filter((s) => statementMatches(s, finding));
    if (matching.length === 0) continue;
    const newest = matching.reduce((a, b) => (Date.parse(b.timestamp) >= Date.parse(a.timestamp) ? b : a));
    if (newest.status === 'not_affected' || newest.status === 'fixed') return newest;
  }
  return undefined;
}

/** One line on why a statement accepts a finding, for reports and SARIF suppressions. */
export function describeStatement(s: VexStatement): string {
  return `${s.status}${s.justification ? ` (${s.justification})` : ''}${s.impactStatement ? `: ${s.impactStatement}` : ''} — ${s.file}, until ${s.expires}`;
}

/** Folder beside the reports holding the in-force documents: what Trivy reads and docker-push attests. */
export const VEX_DIR = 'vex';

/**
 * Writes the in-force documents under `<reportDir>/vex/` (the folder emptied first, so nothing
 * expired or removed lingers there to be attested) and returns their paths.
 */
export async function writeVexForScan(docs: readonly VexDocument[], reportDir: string): Promise<string[]> {
  const dir = join(reportDir, VEX_DIR);
  await rm(dir, { recursive: true, force: true });
  if (docs.length === 0) return [];
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [i, doc] of docs.entries()) {
    const name = `${String(i + 1).padStart(2, '0')}-${doc.file.replace(/[^A-Za-z0-9._-]+/g, '_')}`.replace(/(\.json)?$/, '.json');
    const file = join(dir, name);
    await writeFile(file, `${JSON.stringify(doc.raw, null, 2)}\n`);
    files.push(file);
  }
  return files;
}
