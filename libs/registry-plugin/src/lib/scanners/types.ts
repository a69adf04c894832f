import type { ScannerName, Severity } from '../config/options';
import type { ExecOptions, ExecResult } from '../exec/exec';

/** One vulnerability in one package, in the same shape whichever scanner found it. */
export interface Finding {
  id: string;
  severity: Severity;
  pkgName: string;
  installedVersion: string;
  fixedVersion?: string;
  title?: string;
  /** Where the scanner found the package (Trivy's `Target`, Grype's first location path). */
  target?: string;
  /** Other ids for the same vulnerability (Grype reports a GHSA with its CVE as related). */
  aliases?: string[];
  /** Platforms (`os/arch[/variant]`) of the image the package was found in; one scan per platform. */
  platforms?: string[];
  /** The package's URL (`pkg:deb/debian/gzip@1.12-1?arch=amd64&distro=debian-12`): what VEX statements name. */
  purl?: string;
  /** The scanner itself left this finding out on a VEX statement (Trivy --vex --show-suppressed); the gate decides anew. */
  suppressedByScanner?: { status: string; statement?: string; source?: string };
}

/** What ran: the cache key of a scan is image digest + this. */
export interface ScannerIdentity {
  name: ScannerName;
  version: string;
  /** Vulnerability database version, `none` when no database is present. */
  db: string;
  /** Where the database came from, e.g. `127.0.0.1:5000/auren/trivy-db@sha256:…` (registry-served DBs). */
  dbSource?: string;
}

/**
 * Where the scanner gets its vulnerability database. Resolved before the scan (it needs the
 * registry), so the scan and its cache key name the same database.
 * - `registry`: served by our registry (`nx run registry:trivy-db`); Trivy downloads it from
 *   there (`--db-repository`), the air-gapped way.
 * - `local`: whatever the scanner has cached or downloads itself from its default source.
 */
export type ScanDatabase =
  | { kind: 'registry'; reference: string; digest: string; updatedAt?: string; insecure: boolean; certDir?: string; credentials?: { username: string; password: string; identityToken?: string } }
  | { kind: 'local' };

/** What names a database in the scan's cache key: a `ScanDatabase` without what a download needs. */
export type ServedDatabase = { kind: 'registry'; reference: string; digest: string; updatedAt?: string } | { kind: 'local' };

/** `exec` from lib/exec, injectable so adapters stay pure argv builders. */
export type ExecFn = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface ScanArgsInput {
  layoutDir: string;
  /** Digest of the top-level descriptor in index.json, when known: pins what is scanned. */
  digest?: string;
  outputFile: string;
  /** The scanner's cache folder (Trivy: `--cache-dir`); default: the scanner's own. */
  cacheDir?: string;
  /** The database is already in the cache and must not be updated by this run. */
  skipDbUpdate?: boolean;
  /** OpenVEX documents in force (lib/scanners/vex.ts), for scanners that read them. */
  vexFiles?: string[];
}

/**
 * A vulnerability scanner. Adapters only build argv arrays and parse documents; running them is
 * `runScanner`'s job, so every adapter is table-testable without the tool installed.
 */
export interface ScannerAdapter {
  readonly name: ScannerName;
  /** Executable looked up on PATH. */
  readonly binary: string;
  /** One scan of an OCI layout directory, JSON report written to `outputFile`. */
  scanArgs(input: ScanArgsInput): string[];
  /** Parses and shape-checks a report; throws `InvalidReportError` when it is not one. */
  parseReport(text: string): Finding[];
  /** Asks the installed tool for its version and database version. */
  identify(exec: ExecFn, binaryPath: string, env: NodeJS.ProcessEnv, cacheDir?: string): Promise<ScannerIdentity>;
  /**
   * Files whose change changes what `identify` answers besides the binary itself (the database
   * it reports on), so an answer can be kept per machine (tool-identity.ts). Absent: the tool is
   * asked every time.
   */
  databaseFiles?(env: NodeJS.ProcessEnv, cacheDir?: string): string[];
}

/**
 * The scanner could not get a vulnerability database at all: none served by the registry, none
 * cached, and its own source not reachable. An expected outcome on an offline machine: the scan
 * says so (not-scanned, cause `no-database`) where `allowUnscanned` permits it.
 */
export class DatabaseUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUnavailable';
  }
}

/** The scanner's output is missing or not a report in its documented schema. */
export class InvalidReportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidReportError';
  }
}
