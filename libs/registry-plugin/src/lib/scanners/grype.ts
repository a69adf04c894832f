import type { ExecFn, Finding, ScanArgsInput, ScannerAdapter, ScannerIdentity } from './types';
import { InvalidReportError } from './types';
import { isObject, parseJson } from './report-json';
import { normalizeSeverity } from './severity';

/**
 * Grype reads an OCI image layout through the `oci-dir:` source scheme
 * (https://github.com/anchore/grype#supported-sources). `--by-cve` reports GHSA/distro ids under
 * their CVE where one exists, so one ignore list (written with CVE ids) works for both scanners.
 * `--file` writes the report while stdout stays free for diagnostics. No `--fail-on`/`--only-fixed`:
 * the gate is decided in TypeScript from the full report.
 */
export const grypeAdapter: ScannerAdapter = {
  name: 'grype',
  binary: 'grype',
  scanArgs({ layoutDir, outputFile }: ScanArgsInput): string[] {
    return [`oci-dir:${layoutDir}`, '--by-cve', '-o', 'json', '--file', outputFile, '-q'];
  },
  parseReport: parseGrypeReport,
  async identify(exec: ExecFn, binaryPath: string, env: NodeJS.ProcessEnv): Promise<ScannerIdentity> {
    const version = await exec(binaryPath, ['version', '-o', 'json'], { env });
    // `db status` exits 1 when the database is missing or invalid, still printing JSON with "error".
    const status = await exec(binaryPath, ['db', 'status', '-o', 'json'], { env, okExitCodes: [1] });
    return parseGrypeIdentity(version.stdout, status.stdout);
  },
};

function firstSentence(text: string): string {
  const line = text.split('\n')[0].trim();
  return line.length > 140 ? `${line.slice(0, 137)}...` : line;
}

/**
 * Grype JSON (`-o json`): `{ matches: [{ vulnerability: { id, severity, description, fix:
 * { versions, state } }, relatedVulnerabilities: [{ id }], artifact: { name, version, type,
 * locations: [{ path, layerID }] } }], source, distro, descriptor: { name, version, db } }`.
 * `matches` is always an array (Grype preallocates it so a clean scan prints `[]`).
 */
export function parseGrypeReport(text: string): Finding[] {
  const doc = parseJson(text, 'grype');
  if (!isObject(doc) || !Array.isArray(doc['matches']) || !isObject(doc['descriptor'])) {
    throw new InvalidReportError('grype output is not a Grype JSON report ("matches" list and "descriptor" expected)');
  }
  return (doc['matches'] as unknown[]).map((match) => {
    if (!isObject(match) || !isObject(match['vulnerability']) || !isObject(match['artifact'])) {
      throw new InvalidReportError('grype report: a match lacks "vulnerability" or "artifact"');
    }
    const vuln = match['vulnerability'];
    const artifact = match['artifact'];
    if (typeof vuln['id'] !== 'string' || typeof artifact['name'] !== 'string') {
      throw new InvalidReportError('grype report: a match lacks vulnerability.id or artifact.name');
    }
    const finding: Finding = {
      id: vuln['id'],
      severity: normalizeSeverity(vuln['severity']),
      pkgName: artifact['name'],
      installedVersion: typeof artifact['version'] === 'string' ? artifact['version'] : '',
    };
    const fix = isObject(vuln['fix']) ? vuln['fix'] : {};
    const versions = Array.isArray(fix['versions']) ? fix['versions'].filter((v): v is string => typeof v === 'string') : [];
    if (fix['state'] === 'fixed' && versions.length > 0) finding.fixedVersion = versions.join(', ');
    if (typeof vuln['description'] === 'string' && vuln['description']) finding.title = firstSentence(vuln['description']);
    if (typeof artifact['purl'] === 'string' && artifact['purl']) finding.purl = artifact['purl'];
    const locations = Array.isArray(artifact['locations']) ? artifact['locations'] : [];
    const first = locations.find(isObject);
    if (first && typeof first['path'] === 'string') finding.target = first['path'];
    const related = Array.isArray(match['relatedVulnerabilities']) ? match['relatedVulnerabilities'] : [];
    const aliases = related
      .map((r) => (isObject(r) && typeof r['id'] === 'string' ? r['id'] : undefined))
      .filter((id): id is string => !!id && id !== finding.id);
    if (aliases.length > 0) finding.aliases = [...new Set(aliases)];
    return finding;
  });
}

/**
 * `grype version -o json` → `{ application, version, buildDate, gitCommit, ... }`;
 * `grype db status -o json` → `{ schemaVersion, built, path, checksum, error }`
 * (`built` changes with every published database; "error" is set when it is missing or invalid).
 */
export function parseGrypeIdentity(versionText: string, statusText: string): ScannerIdentity {
  const version = parseJson(versionText, 'grype version');
  if (!isObject(version) || typeof version['version'] !== 'string') {
    throw new InvalidReportError('`grype version -o json` did not print { "version": ... }');
  }
  let db = 'none';
  try {
    const status = JSON.parse(statusText) as unknown;
    if (isObject(status) && status['built'] && !status['error']) {
      db = `${String(status['schemaVersion'] ?? '?')}@${String(status['built'])}`;
    }
  } catch {
    // No usable status output means no usable database: "none" is the truthful identity.
  }
  return { name: 'grype', version: version['version'], db };
}
