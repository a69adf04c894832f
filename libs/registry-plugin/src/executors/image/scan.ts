import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { openLayerCache } from '../../lib/layer-cache/layer-cache';
import { readImageRecord, repositoryPath } from '../../lib/pipeline/push';
import { loadVexDocuments, resolveScanDatabase, scanImage } from '../../lib/scanners';
import { generateSbom, SBOM_FILE } from '../../lib/supply-chain/sbom';
import { loadConfig, projectInfo } from '../shared/context';
import type { ScanOptions } from './schema';

/** Scan a project's built image (the scan target); false when the gate blocks it. */
export async function scan(options: ScanOptions, context: ExecutorContext): Promise<boolean> {
  const config = loadConfig(context);
  const project = projectInfo(context);
  const image = await readImageRecord(project.artifactDir, project.name);
  const policy = {
    ...config.scan,
    ...(options.scanner ? { scanner: options.scanner } : {}),
    ...(options.severity ? { severity: options.severity } : {}),
    ...(options.ignoreUnfixed !== undefined ? { ignoreUnfixed: options.ignoreUnfixed } : {}),
  };
  // Resolved here, not inside scanImage: it needs the registry, as the scan's cache key does.
  const database = await resolveScanDatabase(config, policy.scanner, process.env);
  // The SBOM (an inventory, no vulnerability DB; docker-push attaches it to the digest) is made
  // while the scan runs: it reads the same layout and writes a file of its own.
  const sbomMade = generateSbom({ layoutDir: join(project.artifactDir, 'oci'), digest: image.digest, outputFile: join(project.artifactDir, 'scan', SBOM_FILE) }).catch(
    (error: unknown) => ({ status: 'failed' as const, reason: error instanceof Error ? error.message : String(error) }),
  );
  // Outside input, read and checked before anything runs: a bad document fails the scan naming it.
  const vex = await loadVexDocuments(config.scan.vex, context.root, new Date());
  const outcome = await scanImage({
    database,
    vex,
    layoutDir: join(project.artifactDir, 'oci'),
    imageRecord: image,
    imageName: `${config.registry}/${repositoryPath(config, project.name)}`,
    policy,
    budgets: config.budgets,
    registry: config.registry,
    reportDir: join(project.artifactDir, 'scan'),
    sourceUri: `${project.root}/Dockerfile`,
    allowRootUser: options.allowRootUser ?? false,
    layerCache: openLayerCache(context.root),
  }).catch(async (error: unknown) => {
    await sbomMade;
    throw error;
  });
  for (const line of outcome.summaryLines) logger.info(line);
  logger.info(`${project.name}: scan ${outcome.verdict}${outcome.notScanned ? ` (${outcome.notScanned.summary})` : ''} — report ${outcome.reportFiles.table}`);
  const sbom = await sbomMade;
  if (sbom.status === 'generated') {
    logger.info(`${project.name}: SBOM ${sbom.file} (CycloneDX ${sbom.summary.specVersion}, ${sbom.summary.components} components, ${sbom.summary.debianPackages} Debian packages)`);
  } else {
    logger.warn(`${project.name}: no SBOM — ${sbom.reason}`);
  }
  return outcome.verdict !== 'blocked';
}
