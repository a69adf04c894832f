import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ExecFn, Finding, ScanArgsInput, ScannerAdapter, ScannerIdentity } from './types';
import { InvalidReportError } from './types';
import { isObject, parseJson } from './report-json';
import { normalizeSeverity } from './severity';

/**
 * Trivy reads an OCI image layout with `trivy image --input <dir>`
 * (https://trivy.dev/latest/docs/target/container_image/ — "OCI Image Layout").
 * `<dir>@<digest>` selects the top-level descriptor in index.json, so the image that is scanned is
 * exactly the one image.json names; a nested index resolves to its first manifest.
 * `--scanners vuln`: secrets are our own built-in check, and Trivy's would double the run time.
 * No `--severity`/`--ignore-unfixed`/`--exit-code`: the gate is decided in TypeScript from the
 * full report, so one run serves every policy.
 * `--list-all-pkgs`: the report lists every package, vulnerable or not, so the image's SBOM is
 * converted from it (`trivy convert`, supply-chain/sbom.ts) instead of a second read of the image.
 * Trivy 0.74 does so by default; older releases did not.
 */
export const trivyAdapter: ScannerAdapter = {
  name: 'trivy',
  binary: 'trivy',
  scanArgs({ layoutDir, digest, outputFile, cacheDir, skipDbUpdate, vexFiles = [] }: ScanArgsInput): string[] {
    const input = digest ? `${layoutDir}@${digest}` : layoutDir;
    return [
      'image', '--input', input, '--scanners', 'vuln', '--format', 'json', '--list-all-pkgs=true', '--output', outputFile, '--quiet',
      // No calls home: the scan must behave the same with and without internet.
      '--skip-version-check', '--disable-telemetry',
      ...(cacheDir ? ['--cache-dir', cacheDir] : []),
      ...(skipDbUpdate ? ['--skip-db-update'] : []),
      // Accepted findings: Trivy moves what they cover to ExperimentalModifiedFindings, which
      // --show-suppressed keeps in the report, so the gate still sees and counts them.
      ...vexFiles.flatMap((file) => ['--vex', file]),
      ...(vexFiles.length ? ['--show-suppressed'] : []),
    ];
  },
  parseReport: parseTrivyReport,
  async identify(exec: ExecFn, binaryPath: string, env: NodeJS.ProcessEnv, cacheDir?: string): Promise<ScannerIdentity> {
    const result = await exec(binaryPath, ['version', '--format', 'json', ...(cacheDir ? ['--cache-dir', cacheDir] : [])], { env });
    return parseTrivyVersion(result.stdout);
  },
  // `trivy version` reports the database from db/metadata.json in its cache folder.
  databaseFiles: (_env: NodeJS.ProcessEnv, cacheDir?: string) => (cacheDir ? [join(cacheDir, 'db', 'metadata.json'), join(cacheDir, 'db', 'trivy.db')] : []),
};

/** Trivy's cache folder, as Trivy itself picks it (TRIVY_CACHE_DIR, else the user cache folder). */
export function trivyCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRIVY_CACHE_DIR) return env.TRIVY_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(base, 'trivy');
}

interface TrivyVulnerability {
  PkgIdentifier?: unknown;
  VulnerabilityID?: unknown;
  PkgName?: unknown;
  InstalledVersion?: unknown;
  FixedVersion?: unknown;
  Title?: unknown;
  Severity?: unknown;
}

/**
 * Trivy JSON, schema version 2: `{ SchemaVersion, ArtifactName, ArtifactType, Metadata, Results: [
 * { Target, Class, Type, Vulnerabilities: [{ VulnerabilityID, PkgName, InstalledVersion,
 * FixedVersion, Status, Title, Severity, ... }] }] }`. `Results` is omitted when there is nothing
 * to report (the Go struct uses `omitempty`), so a clean image is `{ SchemaVersion: 2, ... }`.
 */
export function parseTrivyReport(text: string): Finding[] {
  const doc = parseJson(text, 'trivy');
  if (!isObject(doc) || doc['SchemaVersion'] !== 2 || typeof doc['ArtifactName'] !== 'string') {
    throw new InvalidReportError('trivy output is not a Trivy JSON report (SchemaVersion 2 with ArtifactName expected)');
  }
  const results = doc['Results'] ?? [];
  if (!Array.isArray(results)) throw new InvalidReportError('trivy report: "Results" is not a list');
  const findings: Finding[] = [];
  for (const result of results) {
    if (!isObject(result)) throw new InvalidReportError('trivy report: a Results entry is not an object');
    const vulns = result['Vulnerabilities'] ?? [];
    if (!Array.isArray(vulns)) throw new InvalidReportError('trivy report: "Vulnerabilities" is not a list');
    const target = typeof result['Target'] === 'string' ? result['Target'] : undefined;
    for (const v of vulns) findings.push(trivyFinding(v, target));
    // With --vex and --show-suppressed: what a VEX statement took out of Vulnerabilities.
    const modified = result['ExperimentalModifiedFindings'] ?? [];
    if (!Array.isArray(modified)) throw new InvalidReportError('trivy report: "ExperimentalModifiedFindings" is not a list');
    for (const m of modified) {
      if (!isObject(m) || m['Type'] !== 'vulnerability') continue;
      findings.push({
        ...trivyFinding(m['Finding'], target),
        suppressedByScanner: {
          status: String(m['Status'] ?? ''),
          ...(typeof m['Statement'] === 'string' && m['Statement'] ? { statement: m['Statement'] } : {}),
          ...(typeof m['Source'] === 'string' ? { source: m['Source'] } : {}),
        },
      });
    }
  }
  return findings;
}

function trivyFinding(v: unknown, target: string | undefined): Finding {
  if (!isObject(v) || typeof v['VulnerabilityID'] !== 'string' || typeof v['PkgName'] !== 'string') {
    throw new InvalidReportError('trivy report: a vulnerability lacks VulnerabilityID or PkgName');
  }
  const t = v as TrivyVulnerability;
  const finding: Finding = {
    id: v['VulnerabilityID'],
    severity: normalizeSeverity(t.Severity),
    pkgName: v['PkgName'],
    installedVersion: typeof t.InstalledVersion === 'string' ? t.InstalledVersion : '',
  };
  if (typeof t.FixedVersion === 'string' && t.FixedVersion) finding.fixedVersion = t.FixedVersion;
  if (typeof t.Title === 'string' && t.Title) finding.title = t.Title;
  if (target) finding.target = target;
  const purl = isObject(t.PkgIdentifier) ? t.PkgIdentifier['PURL'] : undefined;
  if (typeof purl === 'string' && purl) finding.purl = purl;
  return finding;
}

/**
 * `trivy version --format json` → `{ Version, VulnerabilityDB?: { Version, UpdatedAt, NextUpdate,
 * DownloadedAt } }`. `VulnerabilityDB` is absent until a database has been downloaded. The DB's
 * `Version` is its schema (2); `UpdatedAt` is what changes with every published database.
 */
export function parseTrivyVersion(text: string): ScannerIdentity {
  const doc = parseJson(text, 'trivy version');
  if (!isObject(doc) || typeof doc['Version'] !== 'string') {
    throw new InvalidReportError('`trivy version --format json` did not print { "Version": ... }');
  }
  const db = doc['VulnerabilityDB'];
  const dbVersion = isObject(db) && db['UpdatedAt'] ? `${String(db['Version'] ?? '?')}@${String(db['UpdatedAt'])}` : 'none';
  return { name: 'trivy', version: doc['Version'], db: dbVersion };
}
