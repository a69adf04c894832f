import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AurenConfig } from '../config/options';
import { isLoopbackRegistry } from '../config/options';
import { AurenError } from '../errors/errors';
import { which } from '../exec/exec';
import { tryParseManifest } from '../registry/image-graph';
import type { ImageRecord, ScanVerdict } from '../reports/records';
import { createScanner, SCANNER_NAMES } from './adapters';
import { checkRootUser } from './checks/root-user';
import { checkSecrets } from './checks/secrets';
import type { LayerCache } from '../layer-cache/layer-cache';
import { checkSizeBudget } from './checks/size-budget';
import type { CheckResult } from './checks/types';
import { evaluateGate, type GateResult } from './gate';
import { readLayoutImages } from '../registry/layout';
import { buildSarif, buildTable, REPORT_SCHEMA_VERSION, type CombinedReport, type NotScannedCause } from './report';
import { SEVERITY_ORDER } from './severity';
import { TRIVY_DB_UPSTREAM } from './trivy-db-artifact';
import type { Finding, ScanDatabase, ScannerIdentity } from './types';
import { DatabaseUnavailable, runVulnerabilityScan, type VulnerabilityRun } from './vulnerability-run';
import { describeStatement, selectInForce, VEX_DIR, writeVexForScan, type VexDocument } from './vex';

export interface RunScannerInput {
  /** The OCI image layout written by docker-build (`dist/images/<project>/oci`). */
  layoutDir: string;
  imageRecord: ImageRecord;
  /** Human name for reports, e.g. `127.0.0.1:5000/auren/auren-api`. */
  imageName: string;
  policy: AurenConfig['scan'];
  budgets: AurenConfig['budgets'];
  /** Registry the image is headed for; decides whether `allowUnscanned: loopback` applies. */
  registry: string;
  reportDir: string;
  /** Repository-relative file SARIF results are attached to (the Dockerfile); default: the image name. */
  sourceUri?: string;
  now?: Date;
  env?: NodeJS.ProcessEnv;
  /** Report a root runtime user as a warning instead of blocking (base images run as root). */
  allowRootUser?: boolean;
  /** Per-layer results of earlier scans (lib/layer-cache): only layers not seen before are read. */
  layerCache?: LayerCache;
  /** Where the scanner's database comes from (`resolveScanDatabase`); default: the scanner's own. */
  database?: ScanDatabase;
  /** The OpenVEX documents of `scan.vex` (`loadVexDocuments`): accepted findings. */
  vex?: VexDocument[];
}

export interface ScanOutcome {
  verdict: ScanVerdict;
  scanner?: ScannerIdentity;
  /** Why there was no vulnerability scan, when there was none: never a bare "not-scanned". */
  notScanned?: { cause: NotScannedCause; summary: string };
  findings: Finding[];
  gate: GateResult;
  checks: CheckResult[];
  reportFiles: { json: string; sarif: string; table: string; raw?: string };
  /**
   * The scanner's report when it lists every package of the one image scanned (Trivy, one
   * platform, `--list-all-pkgs`): the image's SBOM is converted from it (supply-chain/sbom.ts).
   */
  packageReport?: string;
  summaryLines: string[];
}

const REPORT_FILES = { json: 'report.json', sarif: 'report.sarif', table: 'report.txt' } as const;
const TOOL_VERSION = '0.1.0';
/** The one line push.json and the final table carry for an image that was not scanned. */
export function notScannedSummary(cause: NotScannedCause, binary: string): string {
  switch (cause) {
    case 'no-scanner':
      return `no ${binary} on PATH: install it with \`bash tools/scripts/setup.sh --product-tools\``;
    case 'no-database':
      return `no vulnerability database: serve one with \`nx run registry:trivy-db --from=${TRIVY_DB_UPSTREAM}\``;
    default: {
      const unhandled: never = cause;
      return unhandled;
    }
  }
}

export const DATABASE_HINT =
  `Serve one from the registry: \`nx run registry:trivy-db --from=${TRIVY_DB_UPSTREAM}\` copies the real one by digest where ghcr.io is reachable ` +
  '(then every machine scans offline from the registry), and `nx run registry:trivy-db` builds the fixture database from tools/trivy-db/advisories.json (needs Go).';

export const SCANNER_INSTALL_HINT =
  'In this repository `bash tools/scripts/setup.sh --product-tools` builds the pinned trivy and cosign into tools/.bin. Elsewhere install Trivy (https://trivy.dev/latest/getting-started/installation/, e.g. its apt repository or `brew install trivy`) ' +
  'or Grype (https://github.com/anchore/grype#installation) and choose it with scan.scanner in nx.json or AUREN_SCANNER. ' +
  'To push unscanned images to a local registry only, set scan.allowUnscanned to "loopback" (or "always" to allow it everywhere).';

function unscannedAllowed(policy: AurenConfig['scan'], registry: string): boolean {
  switch (policy.allowUnscanned) {
    case 'always':
      return true;
    case 'loopback':
      return isLoopbackRegistry(registry);
    case 'never':
      return false;
    default: {
      const unhandled: never = policy.allowUnscanned;
      return unhandled;
    }
  }
}

function overallVerdict(gate: GateResult, checks: CheckResult[], scanned: boolean): ScanVerdict {
  if (gate.verdict === 'blocked' || checks.some((c) => c.status === 'fail')) return 'blocked';
  if (!scanned) return 'not-scanned';
  if (gate.verdict === 'warn' || checks.some((c) => c.status === 'warn')) return 'warn';
  return 'pass';
}

function summarize(report: CombinedReport, files: ScanOutcome['reportFiles']): string[] {
  const lines: string[] = [];
  const scan = report.vulnerabilityScan;
  lines.push(`${report.image.name}@${report.image.digest}: ${report.verdict.toUpperCase()}`);
  if (scan.status === 'scanned') {
    const g = report.gate;
    lines.push(
      `${scan.scanner.name} ${scan.scanner.version} (db ${scan.scanner.db}${scan.scanner.dbSource ? ` from ${scan.scanner.dbSource}` : ''}): ` +
        `${SEVERITY_ORDER.map((s) => `${g.counts[s]} ${s}`).join(', ')}; ${g.blocking.length} blocking (blocks on ${g.blockOn.join(', ')}), ${g.ignored.length} ignored`,
    );
    for (const f of g.blocking.slice(0, 10)) {
      const where = f.platforms && report.image.platforms.length > 1 ? ` [${f.platforms.join(', ')}]` : '';
      lines.push(`  ✖ ${f.severity} ${f.id} ${f.pkgName} ${f.installedVersion}${f.fixedVersion ? ` → fixed in ${f.fixedVersion}` : ' (no fix yet)'}${where}`);
    }
    if (g.blocking.length > 10) lines.push(`  … and ${g.blocking.length - 10} more in ${files.table}`);
  } else {
    lines.push(`vulnerabilities: NOT SCANNED — ${scan.summary}`);
    lines.push(`  ${scan.reason}`);
  }
  for (const rule of report.gate.expiredRules) {
    lines.push(`  ! ignore rule ${rule.id} expired on ${rule.expires}; it no longer applies (${rule.matched} matching finding(s)). Remove or renew it in scan.ignore.`);
  }
  for (const i of report.gate.ignored.filter((x) => x.reason === 'vex')) {
    lines.push(`  ✔ ${i.finding.severity} ${i.finding.id} ${i.finding.pkgName} accepted by OpenVEX: ${i.statement ? describeStatement(i.statement) : ''}`);
  }
  for (const s of report.gate.expiredStatements.filter((x) => x.matched > 0)) {
    lines.push(`  ! OpenVEX statement ${s.vulnerability} in ${s.file} expired on ${s.expires} (180 days after ${s.timestamp}); it no longer applies (${s.matched} matching finding(s)). Review it and give it a new timestamp, or remove it.`);
  }
  for (const c of report.checks) {
    const mark = c.status === 'pass' ? '✔' : c.status === 'fail' ? '✖' : c.status === 'warn' ? '!' : '-';
    lines.push(`${mark} ${c.id}: ${c.message}`);
    for (const s of (c.secrets ?? []).slice(0, 10)) {
      lines.push(`    ${s.rule} /${s.path}${s.line ? `:${s.line}` : ''} in layer ${s.layer.slice(0, 19)} (${s.masked})${s.removedInLayer ? ' — deleted later, still in history' : ''}`);
    }
    if (c.status !== 'pass' && c.hint) lines.push(`    → ${c.hint}`);
  }
  lines.push(`reports: ${files.table}, ${files.json}, ${files.sarif}`);
  return lines;
}

/**
 * Scans one built image (its OCI layout, never a daemon): the configured vulnerability scanner
 * once, the policy gate over its report, and the built-in checks. "Blocked" is a value in the
 * outcome; only failures to scan at all are thrown.
 */
export async function runScanner(input: RunScannerInput): Promise<ScanOutcome> {
  const env = input.env ?? process.env;
  const now = input.now ?? new Date();
  const layout = await readLayoutImages(input.layoutDir);
  const index = tryParseManifest(await readFile(join(input.layoutDir, 'index.json')));
  if (!(index?.children ?? []).some((m) => m.digest === input.imageRecord.digest)) {
    throw new AurenError('input', `image.json names ${input.imageRecord.digest}, which is not in ${input.layoutDir}/index.json`,
      'The layout and image.json come from different builds; run the docker-build target again.');
  }
  await mkdir(input.reportDir, { recursive: true });

  const adapter = createScanner(input.policy.scanner);
  const binaryPath = await which(adapter.binary, env);
  let notScanned: { cause: NotScannedCause; reason: string } | undefined;
  if (!binaryPath) {
    if (!unscannedAllowed(input.policy, input.registry)) {
      const others = [];
      for (const name of SCANNER_NAMES) {
        if (name !== adapter.name && (await which(createScanner(name).binary, env))) others.push(name);
      }
      throw new AurenError(
        'scan',
        `cannot scan ${input.imageName}: \`${adapter.binary}\` is not installed (not on PATH), and scan.allowUnscanned is "${input.policy.allowUnscanned}"` +
          (input.policy.allowUnscanned === 'loopback' ? ` while registry ${input.registry} is not on loopback` : ''),
        others.length > 0 ? `${others.join(', ')} is installed: set AUREN_SCANNER=${others[0]} (or scan.scanner) to use it. ${SCANNER_INSTALL_HINT}` : SCANNER_INSTALL_HINT,
      );
    }
    notScanned = {
      cause: 'no-scanner',
      reason: `${adapter.binary} is not installed; allowed by scan.allowUnscanned="${input.policy.allowUnscanned}" for registry ${input.registry}. ${SCANNER_INSTALL_HINT}`,
    };
  }

  // What is in force today is what Trivy reads, what the gate applies and what docker-push attests.
  const vex = selectInForce(input.vex ?? [], now);
  const vexFiles = await writeVexForScan(vex.inForce, input.reportDir);
  const compressedBytes = input.imageRecord.size > 0 ? input.imageRecord.size : layout.reachableBytes;
  const scan = async (path: string): Promise<VulnerabilityRun | undefined> => {
    try {
      return await runVulnerabilityScan(adapter, path, input, layout, env, vexFiles);
    } catch (error) {
      if (!(error instanceof DatabaseUnavailable)) throw error;
      if (!unscannedAllowed(input.policy, input.registry)) throw new AurenError('scan', `cannot scan ${input.imageName}: ${error.message}`, DATABASE_HINT);
      notScanned = { cause: 'no-database', reason: `${error.message}; allowed by scan.allowUnscanned="${input.policy.allowUnscanned}" for registry ${input.registry}. ${DATABASE_HINT}` };
      return undefined;
    }
  };
  const [run, secrets] = await Promise.all([
    binaryPath ? scan(binaryPath) : Promise.resolve(undefined),
    checkSecrets({ layoutDir: input.layoutDir, layerSets: layout.images.map((i) => i.layers), allowPaths: input.policy.secretAllowPaths, cache: input.layerCache }),
  ]);
  const checks: CheckResult[] = [secrets, checkRootUser(layout.images, input.allowRootUser ?? false), checkSizeBudget(compressedBytes, input.budgets)];
  const findings = run?.findings ?? [];
  const gate = evaluateGate(findings, { ...input.policy, vex }, now);
  const verdict = overallVerdict(gate, checks, run !== undefined);

  const reportFiles: ScanOutcome['reportFiles'] = {
    json: join(input.reportDir, REPORT_FILES.json),
    sarif: join(input.reportDir, REPORT_FILES.sarif),
    table: join(input.reportDir, REPORT_FILES.table),
    ...(run ? { raw: join(input.reportDir, run.rawFiles[0]) } : {}),
  };
  const report: CombinedReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    image: {
      name: input.imageName,
      project: input.imageRecord.project,
      digest: input.imageRecord.digest,
      platforms: input.imageRecord.platforms,
      compressedBytes,
    },
    registry: input.registry,
    scannedAt: now.toISOString(),
    verdict,
    vulnerabilityScan: run
      ? { status: 'scanned', scanner: run.identity, rawReport: run.rawFiles[0], rawReports: run.rawFiles }
      : { status: 'not-scanned', cause: notScanned?.cause ?? 'no-scanner', summary: notScannedSummary(notScanned?.cause ?? 'no-scanner', adapter.binary), reason: notScanned?.reason ?? `${adapter.binary} is not installed` },
    gate,
    findings,
    checks,
    ...(input.vex?.length
      ? {
          vex: {
            documents: vex.inForce.map((d, i) => ({ file: d.file, id: d.id, author: d.author, statements: d.statements.length, copy: `${VEX_DIR}/${vexFiles[i].split('/').pop()}` })),
            expiredStatements: vex.expired.length,
          },
        }
      : {}),
  };
  // Raw reports of an earlier scan (another platform set, or none now) must not sit beside this one.
  for (const file of await readdir(input.reportDir)) {
    if (file.startsWith(adapter.name) && file.endsWith('.json') && !(run?.rawFiles ?? []).includes(file)) await rm(join(input.reportDir, file), { force: true });
  }
  await writeFile(reportFiles.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(reportFiles.sarif, `${JSON.stringify(buildSarif(report, input.sourceUri ?? input.imageName, TOOL_VERSION), null, 2)}\n`);
  await writeFile(reportFiles.table, buildTable(report));

  return {
    verdict,
    ...(run ? { scanner: run.identity } : {}),
    ...(report.vulnerabilityScan.status === 'not-scanned' ? { notScanned: { cause: report.vulnerabilityScan.cause, summary: report.vulnerabilityScan.summary } } : {}),
    findings,
    gate,
    checks,
    reportFiles,
    ...(run && adapter.name === 'trivy' && run.rawFiles.length === 1 ? { packageReport: join(input.reportDir, run.rawFiles[0]) } : {}),
    summaryLines: summarize(report, reportFiles),
  };
}
