import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { credentialSecrets, goTrustEnv, withTrivyAccess } from '../connect/child-tools';
import { splitList } from '../config/lists';
import { AurenError } from '../errors/errors';
import { exec, which } from '../exec/exec';
import { withFileLock } from '../exec/file-lock';
import type { RegistryClient } from '../registry/client';
import { copyImage } from '../registry/copy';
import { sha256Digest } from '../registry/digest';
import { OCI_MANIFEST } from '../registry/media-types';
import { parseImageReference } from '../registry/reference';
import { TRIVY_DB_SCHEMA_TAG, TRIVY_DB_UPSTREAM, trivyDbManifest } from './trivy-db-artifact';
import { DatabaseUnavailable, type ScanDatabase } from './types';

/**
 * Publishing the database a registry serves (what it is: trivy-db-artifact.ts), and getting it
 * into Trivy's cache before a scan.
 */

/** Where Trivy (v0.74) downloads its database when told nothing else (`trivy image --help`, --db-repository). */
export const TRIVY_DB_DEFAULT_SOURCES = ['mirror.gcr.io/aquasec/trivy-db:2', TRIVY_DB_UPSTREAM];
/** How long a database source may take to answer at all before it counts as unreachable. */
const SOURCE_PROBE_MS = 5_000;
/** A download that has begun may take long on a slow link; Trivy's own --timeout bounds it. */
const DOWNLOAD_TIMEOUT = '10m';

export interface FixtureDb {
  /** The layer: db.tar.gz bytes. */
  layer: Buffer;
  updatedAt: string;
  advisories: number;
}

/**
 * Builds the fixture database with tools/trivy-db (a Go program over trivy-db's own packages,
 * pinned in its go.mod) from `advisoriesFile`. Needs Go, as the test tools do.
 */
export async function buildFixtureDb(options: { workspaceRoot: string; advisoriesFile: string; updatedAt?: string; env?: NodeJS.ProcessEnv }): Promise<FixtureDb> {
  const env = options.env ?? process.env;
  const go = await which('go', env);
  if (!go) {
    throw new AurenError('input', 'building the fixture Trivy database needs Go, which is not on PATH',
      `Install Go 1.24 or newer (https://go.dev/dl/), or mirror the real database instead: nx run registry:trivy-db --from=${TRIVY_DB_UPSTREAM}`);
  }
  const out = await mkdtemp(join(tmpdir(), 'auren-trivy-db-'));
  try {
    const args = ['run', '.', '-advisories', options.advisoriesFile, '-out', out, ...(options.updatedAt ? ['-updated-at', options.updatedAt] : [])];
    let result;
    try {
      result = await exec(go, args, { cwd: join(options.workspaceRoot, 'tools', 'trivy-db'), env });
    } catch (error) {
      throw new AurenError('input', `could not build the Trivy database from ${options.advisoriesFile}: ${(error as Error).message}`,
        'Check the advisories file against tools/trivy-db/advisories.json; `cd tools/trivy-db && go run . -out /tmp/db` shows the whole error.', { cause: error });
    }
    const summary = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { updatedAt?: string; advisories?: number };
    return { layer: await readFile(join(out, 'db.tar.gz')), updatedAt: summary.updatedAt ?? '', advisories: summary.advisories ?? 0 };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

function bufferSource(data: Buffer) {
  return { digest: sha256Digest(data), size: data.length, open: () => Readable.from([data]) };
}

export interface PublishResult {
  repository: string;
  tag: string;
  digest: string;
  status: 'published' | 'unchanged' | 'planned';
}

/** Pushes a built database as `<repository>:2` (blobs first, then the manifest). */
export async function publishTrivyDb(client: RegistryClient, repository: string, db: FixtureDb, options: { dryRun?: boolean } = {}): Promise<PublishResult> {
  const config = Buffer.from('{}');
  const manifest = trivyDbManifest(db.layer, config, db.updatedAt);
  const digest = sha256Digest(manifest);
  const current = await client.manifestHead(repository, TRIVY_DB_SCHEMA_TAG);
  if (current !== 'not-found' && current.digest === digest) return { repository, tag: TRIVY_DB_SCHEMA_TAG, digest, status: 'unchanged' };
  if (options.dryRun) return { repository, tag: TRIVY_DB_SCHEMA_TAG, digest, status: 'planned' };
  await client.blobUpload(repository, bufferSource(config));
  await client.blobUpload(repository, bufferSource(db.layer));
  await client.manifestPut(repository, TRIVY_DB_SCHEMA_TAG, manifest, OCI_MANIFEST);
  return { repository, tag: TRIVY_DB_SCHEMA_TAG, digest, status: 'published' };
}

/** Copies an upstream database (e.g. ghcr.io/aquasecurity/trivy-db:2) by digest into `<repository>:2`. */
export async function mirrorTrivyDb(
  source: RegistryClient,
  from: string,
  target: RegistryClient,
  repository: string,
  options: { dryRun?: boolean } = {},
): Promise<PublishResult> {
  const ref = parseImageReference(from);
  const result = await copyImage({
    from: { client: source, repository: ref.repository, reference: ref.digest ?? ref.tag ?? TRIVY_DB_SCHEMA_TAG },
    to: { client: target, repository, tags: [TRIVY_DB_SCHEMA_TAG] },
    dryRun: options.dryRun,
  });
  const digest = result.digest;
  const changed = result.uploaded > 0 || result.tags.some((t) => t.status !== 'unchanged');
  return { repository, tag: TRIVY_DB_SCHEMA_TAG, digest, status: options.dryRun ? 'planned' : changed ? 'published' : 'unchanged' };
}

/** Written beside trivy.db after a download from a registry: which artifact the cached DB is. */
const SOURCE_MARKER = 'auren-db-source.json';

/**
 * One trivy at a time per cache folder. Trivy opens trivy.db and its layer cache (fanal.db)
 * with bolt's exclusive lock and gives up after 5 s, so scans that Nx runs side by side would
 * fail each other; and a download must not replace trivy.db under a running scan. A lock left
 * by a killed process (known to be gone) is taken over; tasks of one process (a batch) queue in
 * the process first (lib/exec/file-lock.ts).
 */
export function withTrivyCacheLock<T>(cacheDir: string, body: () => Promise<T>): Promise<T> {
  const lock = join(cacheDir, 'auren-scan.lock');
  const onWait = (holder: string) => process.stderr.write(`scan: waiting for ${holder}, which scans with the same cache (${lock})\n`);
  return withFileLock(lock, { holder: 'a trivy scan', onWait }, body);
}

export interface PreparedDatabase {
  /** Pass `--skip-db-update` to the scans: the cache holds the database to use. */
  skipDbUpdate: boolean;
  /** trivy's environment: the registry's CAs added to its trust (never its credentials). */
  env: NodeJS.ProcessEnv;
  /** Where the database came from, for the report. */
  source?: string;
  /** No database was cached and none is served: this run downloaded one from Trivy's own sources. */
  fromDefaultSource: boolean;
}

/**
 * Gets the database a scan will use into Trivy's cache, once for all platforms of an image:
 * - served by our registry: downloaded from there (`--download-db-only --db-repository`) unless
 *   the cache already holds that very artifact (by digest), replacing whatever was cached before
 *   (`trivy clean --vuln-db`): Trivy alone would keep a cached DB for up to an hour and scan
 *   with an older database than the one the cache key names;
 * - otherwise: the cached database if there is one (`--skip-db-update`, no network), else
 *   Trivy's default source.
 * The caller holds `withTrivyCacheLock` for the cache folder.
 */
export async function prepareTrivyDatabase(options: {
  binaryPath: string;
  cacheDir: string;
  database: ScanDatabase;
  env: NodeJS.ProcessEnv;
  cachedDb: () => Promise<string>;
}): Promise<PreparedDatabase> {
  const { database, cacheDir, binaryPath } = options;
  if (database.kind === 'local') {
    if ((await options.cachedDb()) !== 'none') return { skipDbUpdate: true, env: options.env, fromDefaultSource: false };
    await downloadFromDefaultSource(binaryPath, cacheDir, options.env);
    return { skipDbUpdate: true, env: options.env, fromDefaultSource: true };
  }
  const env = goTrustEnv(options.env, database.certDir);
  const source = `${database.reference}@${database.digest}`;
  const markerFile = join(cacheDir, 'db', SOURCE_MARKER);
  const marker = JSON.parse(await readFile(markerFile, 'utf8').catch(() => '{}')) as { digest?: string };
  if (marker.digest === database.digest && (await options.cachedDb()) !== 'none') {
    return { skipDbUpdate: true, env, source, fromDefaultSource: false };
  }
  // A new cache (a new machine, a fresh CI runner) has no database to replace: no trivy process.
  if (existsSync(join(cacheDir, 'db'))) await exec(binaryPath, ['clean', '--vuln-db', '--cache-dir', cacheDir], { env, okExitCodes: [1] });
  const args = ['image', '--download-db-only', '--db-repository', database.reference, '--cache-dir', cacheDir, '--quiet', '--skip-version-check', '--disable-telemetry', ...(database.insecure ? ['--insecure'] : [])];
  try {
    await withTrivyAccess(database.reference.split('/')[0], database.credentials, env, (trivyEnv) =>
      exec(binaryPath, args, { env: trivyEnv, redact: credentialSecrets(database.credentials) }));
  } catch (error) {
    throw new AurenError('scan', `trivy could not download its vulnerability database from ${database.reference}:2: ${(error as Error).message}`,
      'Check that the registry serves it (`nx run registry:trivy-db` publishes it) and that its credentials and CA reach trivy.', { cause: error });
  }
  await mkdir(dirname(markerFile), { recursive: true });
  await writeFile(markerFile, `${JSON.stringify({ reference: database.reference, digest: database.digest, updatedAt: database.updatedAt })}\n`);
  return { skipDbUpdate: true, env, source, fromDefaultSource: false };
}

/** Trivy's own database sources: TRIVY_DB_REPOSITORY (comma-separated, as Trivy reads it), else its defaults. */
export function trivyDefaultSources(env: NodeJS.ProcessEnv): string[] {
  const configured = splitList(env.TRIVY_DB_REPOSITORY);
  return configured.length ? configured : TRIVY_DB_DEFAULT_SOURCES;
}

/** Errors that mean nothing answered: no name, no route, refused, or silence until the deadline. */
const NO_ANSWER = /^(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ENETUNREACH|EHOSTUNREACH|ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET)$/;

/**
 * Whether the registry of a database reference answers at all within `timeoutMs`: any HTTP answer
 * (401 included) or a TLS answer Node does not trust counts, since Trivy may trust it (its own CA
 * settings) and will say so itself. Only silence, refusal or an unknown name count as unreachable.
 */
export async function sourceAnswers(reference: string, timeoutMs: number = SOURCE_PROBE_MS): Promise<{ answers: true } | { answers: false; reason: string }> {
  const host = reference.split('/')[0];
  try {
    await fetch(`https://${host}/v2/`, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    return { answers: true };
  } catch (error) {
    const err = error as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return { answers: false, reason: `${host} did not answer within ${timeoutMs / 1000} s` };
    const code = err.cause?.code ?? '';
    if (NO_ANSWER.test(code)) return { answers: false, reason: `${host}: ${code}` };
    return { answers: true };
  }
}

/**
 * No database is served and none is cached: Trivy's own download, bounded. Without a network the
 * download would fail anyway; here it fails at once (a source that does not answer within 5 s),
 * instead of Trivy's dial and retry timeouts, and names the cause. A download that has started is
 * bounded by Trivy's --timeout.
 */
async function downloadFromDefaultSource(binaryPath: string, cacheDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const sources = trivyDefaultSources(env);
  const probes = await Promise.all(sources.map((source) => sourceAnswers(source)));
  if (!probes.some((p) => p.answers)) {
    const reasons = probes.map((p) => (p.answers ? '' : p.reason)).join('; ');
    throw new DatabaseUnavailable(`no vulnerability database: the registry serves none, none is cached, and Trivy's own sources cannot be reached (${reasons})`);
  }
  const args = ['image', '--download-db-only', '--cache-dir', cacheDir, '--quiet', '--skip-version-check', '--disable-telemetry', '--timeout', DOWNLOAD_TIMEOUT];
  const result = await exec(binaryPath, args, { env, okExitCodes: Array.from({ length: 255 }, (_, i) => i + 1) });
  if (result.exitCode !== 0) {
    const last = (result.stderr || result.stdout).trim().split('\n').filter(Boolean).pop() ?? `exit code ${result.exitCode}`;
    throw new DatabaseUnavailable(`no vulnerability database: the registry serves none, none is cached, and Trivy's download from ${sources.join(', ')} failed (${last.replace(/^.*\tFATAL\t/, '')})`);
  }
}
