export type { Finding, ScannerAdapter, ScannerIdentity, ScanArgsInput, ExecFn } from './types';
export { InvalidReportError } from './types';
export { createScanner, SCANNER_NAMES } from './adapters';
export { trivyAdapter, parseTrivyReport, parseTrivyVersion, trivyCacheDir } from './trivy';
export { grypeAdapter, parseGrypeReport, parseGrypeIdentity } from './grype';
export { evaluateGate, type GateResult, type GatePolicy, type IgnoredFinding, type ExpiredRule, type ExpiredStatement } from './gate';
export type { CheckResult, CheckId, CheckStatus, SecretFinding, SecretRuleId } from './checks/types';
export { checkSecrets, findSecretsInText, globToRegExp } from './checks/secrets';
export { checkSizeBudget, formatBytes } from './checks/size-budget';
export { checkRootUser, runsAsRoot } from './checks/root-user';
export { runScanner, SCANNER_INSTALL_HINT, type RunScannerInput, type ScanOutcome } from './scan-image';
export { scannerFingerprint } from './fingerprint';
export { resolveScanDatabase } from './database';
export { buildFixtureDb, mirrorTrivyDb, publishTrivyDb, withTrivyCacheLock, type FixtureDb, type PublishResult } from './trivy-db';
export {
  findTrivyDb,
  trivyDbRepositories,
  TRIVY_DB_CONFIG_MEDIA_TYPE,
  TRIVY_DB_LAYER_MEDIA_TYPE,
  TRIVY_DB_REPOSITORY,
  TRIVY_DB_UPSTREAM,
  type TrivyDbArtifact,
} from './trivy-db-artifact';
export type { ScanDatabase } from './types';
export { loadVexDocuments, selectInForce, parseVexDocument, vexAcceptance, purlMatches, VEX_DIR, VEX_VALIDITY_DAYS, type VexDocument, type VexStatement } from './vex';
export type { CombinedReport } from './report';
