import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { exec as defaultExec, which, type ExecOptions, type ExecResult } from '../exec/exec';
import type { PushRecord } from '../reports/records';

/**
 * The image's software bill of materials, in CycloneDX JSON, made by the real Trivy, one of two
 * ways that give the same document:
 * - from the scan's own Trivy report (`sbomFromTrivyReport`: `trivy convert --format cyclonedx`),
 *   when the scan ran Trivy over a one-platform image: the image is read once, by the scan;
 * - from the OCI layout (`generateSbom`: `trivy image --input <layout>@<digest> --format
 *   cyclonedx`) otherwise: Grype scanned, the scan had no database, or a multi-platform index.
 *
 * Making an SBOM is an inventory: with `--format cyclonedx` Trivy turns vulnerability scanning
 * off unless `--scanners vuln` is given (https://trivy.dev/latest/docs/supply-chain/sbom/), so it
 * needs no vulnerability database. `--skip-db-update`, `--skip-java-db-update` and
 * `--offline-scan` make sure it never tries to download one (this machine, and air-gapped CI,
 * cannot reach ghcr.io).
 *
 * For a multi-platform index Trivy resolves the first manifest of the index: the SBOM then
 * describes that platform's packages, and says so in `metadata.component`.
 */

export const SBOM_FILE = 'sbom.cdx.json';
export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

/**
 * The verdict of the scan that made an SBOM, recorded as annotations of the SBOM's artifact (the
 * referrers index lists them): a machine that finds the release complete in the registry reports
 * the verdict it was released with instead of fetching and scanning the image again.
 */
const SCAN_VERDICT = 'dev.auren.scan.verdict';
const SCAN_CRITICAL = 'dev.auren.scan.critical';
const SCAN_HIGH = 'dev.auren.scan.high';
const SCAN_SCANNER = 'dev.auren.scan.scanner';

/** The annotations for a pushed image's scan; none for an image pushed without a passing scan. */
export function scanAnnotations(scan: PushRecord['scan'] | undefined): Record<string, string> {
  if (!scan || (scan.verdict !== 'pass' && scan.verdict !== 'warn')) return {};
  return {
    [SCAN_VERDICT]: scan.verdict,
    ...(scan.critical !== undefined ? { [SCAN_CRITICAL]: String(scan.critical) } : {}),
    ...(scan.high !== undefined ? { [SCAN_HIGH]: String(scan.high) } : {}),
    ...(scan.scanner ? { [SCAN_SCANNER]: scan.scanner } : {}),
  };
}

/**
 * The released scan from an SBOM's annotations, or undefined unless they hold one: the registry
 * wrote them, so only a pass or warn verdict, counts of at most six digits and a short printable
 * scanner name are taken.
 */
export function scanFromAnnotations(annotations: Record<string, unknown> | undefined): PushRecord['scan'] | undefined {
  const verdict = annotations?.[SCAN_VERDICT];
  if (verdict !== 'pass' && verdict !== 'warn') return undefined;
  const count = (key: string): number | undefined | false => {
    const value = annotations?.[key];
    if (value === undefined) return undefined;
    return typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : false;
  };
  const critical = count(SCAN_CRITICAL);
  const high = count(SCAN_HIGH);
  const scanner = annotations?.[SCAN_SCANNER];
  if (critical === false || high === false) return undefined;
  if (scanner !== undefined && (typeof scanner !== 'string' || !/^[\x20-\x7e]{1,100}$/.test(scanner))) return undefined;
  return { verdict, ...(scanner ? { scanner } : {}), ...(critical !== undefined ? { critical } : {}), ...(high !== undefined ? { high } : {}) };
}

export type ExecFn = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface SbomInput {
  layoutDir: string;
  /** Top-level digest in the layout's index.json (image.json's digest). */
  digest: string;
  outputFile: string;
  env?: NodeJS.ProcessEnv;
  exec?: ExecFn;
}

export interface SbomSummary {
  specVersion: string;
  components: number;
  /** Components with a `pkg:deb/...` purl (the image's dpkg status). */
  debianPackages: number;
  tool: string;
}

export type SbomOutcome =
  | { status: 'generated'; file: string; summary: SbomSummary }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; reason: string };

export function sbomArgs(layoutDir: string, digest: string, outputFile: string): string[] {
  return [
    'image',
    '--input',
    `${layoutDir}@${digest}`,
    '--format',
    'cyclonedx',
    '--output',
    outputFile,
    '--skip-db-update',
    '--skip-java-db-update',
    '--offline-scan',
    '--skip-version-check',
    '--disable-telemetry',
    '--quiet',
  ];
}

interface CycloneDxComponent {
  type?: unknown;
  name?: unknown;
  version?: unknown;
  purl?: unknown;
}

/** Checks the document is CycloneDX JSON and counts what it lists; throws with the reason if not. */
export function summarizeSbom(text: string): SbomSummary {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  if (!doc || doc['bomFormat'] !== 'CycloneDX' || typeof doc['specVersion'] !== 'string') {
    throw new Error('not a CycloneDX document (bomFormat "CycloneDX" and specVersion expected)');
  }
  const components = (doc['components'] ?? []) as CycloneDxComponent[];
  if (!Array.isArray(components)) throw new Error('"components" is not a list');
  const metadata = (doc['metadata'] ?? {}) as { tools?: { components?: Array<{ name?: string; version?: string }> } | Array<{ name?: string; version?: string }> };
  const tools = Array.isArray(metadata.tools) ? metadata.tools : (metadata.tools?.components ?? []);
  const tool = tools.map((t) => `${t.name ?? '?'} ${t.version ?? ''}`.trim()).join(', ') || 'unknown';
  return {
    specVersion: doc['specVersion'] as string,
    components: components.length,
    debianPackages: components.filter((c) => typeof c.purl === 'string' && c.purl.startsWith('pkg:deb/')).length,
    tool,
  };
}

/**
 * Never throws for an expected outcome: Trivy missing is `skipped`, Trivy failing or writing
 * something that is not CycloneDX is `failed` (and no file is left behind to be attached).
 */
async function writeSbom(
  outputFile: string,
  options: { env?: NodeJS.ProcessEnv; exec?: ExecFn },
  make: (trivy: string, run: ExecFn, env: NodeJS.ProcessEnv) => Promise<unknown>,
): Promise<SbomOutcome> {
  const env = options.env ?? process.env;
  const run = options.exec ?? defaultExec;
  const trivy = await which('trivy', env);
  if (!trivy) return { status: 'skipped', reason: '`trivy` is not installed (not on PATH); no SBOM made' };
  await mkdir(dirname(outputFile), { recursive: true });
  await rm(outputFile, { force: true });
  try {
    await make(trivy, run, env);
    const summary = summarizeSbom(await readFile(outputFile, 'utf8'));
    return { status: 'generated', file: outputFile, summary };
  } catch (error) {
    await rm(outputFile, { force: true });
    return { status: 'failed', reason: `trivy could not make a CycloneDX SBOM: ${(error as Error).message}` };
  }
}

/** The SBOM read from the OCI layout by a Trivy run of its own. */
export async function generateSbom(input: SbomInput): Promise<SbomOutcome> {
  return writeSbom(input.outputFile, input, (trivy, run, env) => run(trivy, sbomArgs(input.layoutDir, input.digest, input.outputFile), { env }));
}

export function convertArgs(reportFile: string, outputFile: string): string[] {
  return ['convert', '--format', 'cyclonedx', '--output', outputFile, '--quiet', reportFile];
}

/**
 * A Trivy JSON report (schema 2) reduced to the inventory: every result's packages, without the
 * vulnerabilities the scan found (and those a VEX statement suppressed). `trivy convert` would
 * copy them into the SBOM's `vulnerabilities`; the SBOM made from the layout has none, since it
 * is an inventory and the scan's verdict is attested apart from it.
 */
export function trivyReportInventory(reportText: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(reportText);
  } catch (error) {
    throw new Error(`the scan's report is not JSON (${(error as Error).message})`);
  }
  const report = doc as { SchemaVersion?: unknown; Results?: unknown };
  if (!report || typeof report !== 'object' || report.SchemaVersion !== 2) throw new Error("the scan's report is not a Trivy JSON report (SchemaVersion 2)");
  const results = Array.isArray(report.Results) ? report.Results : [];
  const inventory = results.map((result: unknown) => {
    if (!result || typeof result !== 'object') return result;
    const { Vulnerabilities: _found, ExperimentalModifiedFindings: _suppressed, ...rest } = result as Record<string, unknown>;
    return rest;
  });
  return JSON.stringify({ ...report, ...(report.Results === undefined ? {} : { Results: inventory }) });
}

export interface SbomFromReportInput {
  /** The scan's Trivy JSON report of a one-platform image, made with `--list-all-pkgs`. */
  reportFile: string;
  outputFile: string;
  env?: NodeJS.ProcessEnv;
  exec?: ExecFn;
}

/**
 * The SBOM converted from the scan's own Trivy report: the components, dependencies and metadata
 * (`metadata.component` names the scanned `<layout>@<digest>`) that `generateSbom` gives, without
 * reading the image again. The reduced report is written beside the SBOM and removed afterwards.
 */
export async function sbomFromTrivyReport(input: SbomFromReportInput): Promise<SbomOutcome> {
  const inventoryFile = `${input.outputFile}.inventory.json`;
  return writeSbom(input.outputFile, input, async (trivy, run, env) => {
    try {
      await writeFile(inventoryFile, trivyReportInventory(await readFile(input.reportFile, 'utf8')));
      await run(trivy, convertArgs(inventoryFile, input.outputFile), { env });
    } finally {
      await rm(inventoryFile, { force: true });
    }
  });
}
