import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AurenConfig } from '../config/options';
import { scanSettings, type ScanTargetOptions } from '../config/precedence';
import { imageName } from '../config/repository';
import { openLayerCache } from '../layer-cache/layer-cache';
import { readImageRecord } from '../reports/records';
// The scanners' runScanner runs the scanner and the gate over a layout; this use case adds
// what a project's scan target needs around it (its record, database, VEX documents, SBOM).
import { loadVexDocuments, resolveScanDatabase, runScanner, type ScanOutcome } from '../scanners';
import { generateSbom, SBOM_FILE, sbomFromTrivyReport, type SbomOutcome } from '../supply-chain/sbom';

/**
 * The scan target's options, declared here once: the image executor's schema.d.ts composes its
 * options from this type and the build's.
 */
export interface ScanImageTargetOptions extends ScanTargetOptions {
  /** Do not block an image whose runtime user is root (base images only); default: false. */
  allowRootUser?: boolean;
}

export interface ScanProject {
  name: string;
  root: string;
  /** Absolute folder of the project's image artifacts. */
  artifactDir: string;
  /** Its repository below the namespace (lib/config/repository.ts). */
  repository: string;
}

export interface ScanImageOptions {
  workspaceRoot: string;
  project: ScanProject;
  config: AurenConfig;
  /** `config.scan` with the target's options over it. */
  policy: AurenConfig['scan'];
  allowRootUser: boolean;
}

export interface ScanImageIo {
  env: NodeJS.ProcessEnv;
  now: Date;
}

export interface ScanImageResult {
  outcome: ScanOutcome;
  sbom: SbomOutcome;
}

export function normalizeScanImageOptions(
  options: ScanImageTargetOptions,
  input: { workspaceRoot: string; project: ScanProject; config: AurenConfig },
  env: NodeJS.ProcessEnv,
): ScanImageOptions {
  return { ...input, policy: scanSettings(options, input.config.scan, env), allowRootUser: options.allowRootUser ?? false };
}

/** Scan a project's built image (the scan target) and make its SBOM; the verdict says whether the gate blocks it. */
export async function scanImage(options: ScanImageOptions, io: ScanImageIo): Promise<ScanImageResult> {
  const { workspaceRoot, project, config, policy } = options;
  const layoutDir = join(project.artifactDir, 'oci');
  const image = await readImageRecord(project.artifactDir, project.name);
  // Resolved here, not by the scanner: it needs the registry, as the scan's cache key does.
  const database = await resolveScanDatabase(config, policy.scanner, io.env);
  // The SBOM (an inventory, no vulnerability DB; docker-push attaches it to the digest). A Trivy
  // scan of a one-platform image reads the image once, and the SBOM is converted from its report
  // afterwards; otherwise (Grype, a multi-platform index) Trivy reads the layout for it while the
  // scan runs, as it does when the scan finds no database.
  const sbomFile = join(project.artifactDir, 'scan', SBOM_FILE);
  const failed = (error: unknown): SbomOutcome => ({ status: 'failed', reason: error instanceof Error ? error.message : String(error) });
  const fromLayout = () => generateSbom({ layoutDir, digest: image.digest, outputFile: sbomFile, env: io.env }).catch(failed);
  // An SBOM of an earlier build must not outlive a scan that fails before making this one.
  await rm(sbomFile, { force: true });
  const sbomBeside = policy.scanner === 'trivy' && image.platforms.length === 1 ? undefined : fromLayout();
  // Outside input, read and checked before anything runs: a bad document fails the scan naming it.
  const vex = await loadVexDocuments(config.scan.vex, workspaceRoot, io.now);
  const outcome = await runScanner({
    database,
    vex,
    layoutDir,
    imageRecord: image,
    imageName: imageName(config, project.repository),
    policy,
    budgets: config.budgets,
    registry: config.registry,
    reportDir: join(project.artifactDir, 'scan'),
    sourceUri: `${project.root}/Dockerfile`,
    allowRootUser: options.allowRootUser,
    layerCache: openLayerCache(workspaceRoot, io.env),
    env: io.env,
  }).catch(async (error: unknown) => {
    await sbomBeside;
    throw error;
  });
  const sbom = sbomBeside
    ? await sbomBeside
    : outcome.packageReport
      ? await sbomFromTrivyReport({ reportFile: outcome.packageReport, outputFile: sbomFile, env: io.env }).catch(failed)
      : await fromLayout();
  return { outcome, sbom };
}

/** The lines the scan ends with: the summary, the verdict, and the SBOM or why there is none. */
export function scanSummary(project: string, result: ScanImageResult): { info: string[]; warn: string | undefined } {
  const { outcome, sbom } = result;
  const info = [
    ...outcome.summaryLines,
    `${project}: scan ${outcome.verdict}${outcome.notScanned ? ` (${outcome.notScanned.summary})` : ''} — report ${outcome.reportFiles.table}`,
  ];
  if (sbom.status === 'generated') {
    info.push(`${project}: SBOM ${sbom.file} (CycloneDX ${sbom.summary.specVersion}, ${sbom.summary.components} components, ${sbom.summary.debianPackages} Debian packages)`);
    return { info, warn: undefined };
  }
  return { info, warn: `${project}: no SBOM — ${sbom.reason}` };
}
