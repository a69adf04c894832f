import { createHash } from 'node:crypto';
import type { Severity } from '../config/options';
import type { ScanVerdict } from '../reports/records';
import type { CheckResult } from './checks/types';
import type { GateResult } from './gate';
import { describeStatement } from './vex';
import { SEVERITY_ORDER, severityRank } from './severity';
import type { Finding, ScannerIdentity } from './types';

export const REPORT_SCHEMA_VERSION = 1;

/** Why an image was not scanned for vulnerabilities (a scanner that fails is an error, not this). */
export type NotScannedCause = 'no-scanner' | 'no-database';

/** report.json: our combined, scanner-independent report. */
export interface CombinedReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  image: { name: string; project: string; digest: string; platforms: string[]; compressedBytes: number };
  registry: string;
  scannedAt: string;
  verdict: ScanVerdict;
  vulnerabilityScan:
    | { status: 'scanned'; scanner: ScannerIdentity; rawReport: string; /** One per platform scanned. */ rawReports?: string[] }
    | {
        status: 'not-scanned';
        /** Why, as a kind: `no-scanner` (none on PATH), `no-database` (none served, cached or reachable). */
        cause: NotScannedCause;
        /** One line naming the cause and what to do, for push.json and the final table. */
        summary: string;
        /** The whole story: what was tried, and why it was allowed (scan.allowUnscanned). */
        reason: string;
      };
  gate: GateResult;
  findings: Finding[];
  checks: CheckResult[];
  /** The OpenVEX documents of scan.vex in force for this scan; `copy` is what docker-push attests. */
  vex?: { documents: Array<{ file: string; id: string; author: string; statements: number; copy: string }>; expiredStatements: number };
}

type SarifLevel = 'error' | 'warning' | 'note' | 'none';

/** GitHub maps security-severity to its labels: ≥9 critical, ≥7 high, ≥4 medium, >0 low. */
const SECURITY_SEVERITY: Record<Severity, string | undefined> = {
  CRITICAL: '9.5',
  HIGH: '8.0',
  MEDIUM: '5.5',
  LOW: '2.0',
  UNKNOWN: undefined,
};

function helpUri(id: string): string | undefined {
  if (/^CVE-\d{4}-\d+$/i.test(id)) return `https://nvd.nist.gov/vuln/detail/${id.toUpperCase()}`;
  if (/^GHSA-/i.test(id)) return `https://github.com/advisories/${id}`;
  return undefined;
}

function fingerprint(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
}

interface SarifRule {
  id: string;
  name: string;
  shortDescription: { text: string };
  fullDescription: { text: string };
  help: { text: string; markdown: string };
  helpUri?: string;
  defaultConfiguration: { level: SarifLevel };
  properties: { tags: string[]; precision: string; 'security-severity'?: string };
}

/**
 * SARIF 2.1.0 in the subset GitHub code scanning accepts
 * (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning):
 * one rule per vulnerability id or check, `security-severity` so alerts get security labels, every
 * result with a physical location and a stable `partialFingerprints` entry (the location is not
 * a source line, so GitHub cannot compute one). Results are attached to `sourceUri` (the
 * Dockerfile, when the caller knows it) so alerts show up next to the file that built the image.
 */
export function buildSarif(report: CombinedReport, sourceUri: string, toolVersion: string): object {
  const rules: SarifRule[] = [];
  const ruleIndex = new Map<string, number>();
  const addRule = (rule: SarifRule) => {
    if (!ruleIndex.has(rule.id)) {
      ruleIndex.set(rule.id, rules.length);
      rules.push(rule);
    }
    return ruleIndex.get(rule.id) as number;
  };
  const location = (line = 1) => [
    { physicalLocation: { artifactLocation: { uri: sourceUri }, region: { startLine: line } } },
  ];
  const results: object[] = [];
  const blocking = new Set(report.gate.blocking);
  const ignored = new Map(report.gate.ignored.map((i) => [i.finding, i]));

  for (const f of report.findings) {
    const level: SarifLevel = blocking.has(f)
      ? 'error'
      : f.severity === 'CRITICAL' || f.severity === 'HIGH' || f.severity === 'MEDIUM'
        ? 'warning'
        : 'note';
    const summary = f.title ?? `${f.id} in ${f.pkgName}`;
    const fix = f.fixedVersion ? `Upgrade ${f.pkgName} to ${f.fixedVersion}.` : 'No fixed version is available yet.';
    const index = addRule({
      id: f.id,
      name: f.id.replace(/[^A-Za-z0-9]/g, ''),
      shortDescription: { text: `${f.id}: ${summary}`.slice(0, 1000) },
      fullDescription: { text: summary },
      help: {
        text: `${f.id} (${f.severity}) in package ${f.pkgName}. ${fix}`,
        markdown: `**${f.id}** (${f.severity}) in package \`${f.pkgName}\`. ${fix}`,
      },
      helpUri: helpUri(f.id),
      defaultConfiguration: { level: f.severity === 'CRITICAL' || f.severity === 'HIGH' ? 'error' : 'warning' },
      properties: { tags: ['security', 'vulnerability', f.severity], precision: 'very-high', 'security-severity': SECURITY_SEVERITY[f.severity] },
    });
    const ignore = ignored.get(f);
    results.push({
      ruleId: f.id,
      ruleIndex: index,
      level,
      message: {
        text: `${report.image.name}${f.platforms?.length ? ` (${f.platforms.join(', ')})` : ''}: ${f.pkgName} ${f.installedVersion} is affected by ${f.id} (${f.severity}). ${fix}`,
      },
      locations: location(),
      partialFingerprints: { primaryLocationLineHash: fingerprint(report.image.name, f.id, f.pkgName, f.installedVersion) },
      ...(ignore
        ? {
            suppressions: [
              {
                kind: 'external',
                status: 'accepted',
                justification:
                  ignore.reason === 'unfixed'
                    ? 'no fixed version (scan.ignoreUnfixed)'
                    : ignore.reason === 'vex' && ignore.statement
                    ? `OpenVEX ${describeStatement(ignore.statement)}`
                    : `scan.ignore ${ignore.rule?.id}${ignore.rule?.expires ? ` until ${ignore.rule.expires}` : ''}${ignore.rule?.reason ? `: ${ignore.rule.reason}` : ''}`,
              },
            ],
          }
        : {}),
    });
  }

  for (const check of report.checks) {
    if (check.status === 'pass' || check.status === 'skipped') continue;
    const level: SarifLevel = check.status === 'fail' ? 'error' : 'warning';
    if (check.id === 'secrets' && check.secrets?.length) {
      for (const s of check.secrets) {
        const id = `auren/secret/${s.rule}`;
        const index = addRule({
          id,
          name: `Secret${s.rule.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase())}`,
          shortDescription: { text: `Secret in image layer: ${s.rule}` },
          fullDescription: { text: `A ${s.rule} credential is stored in a layer of the image.` },
          help: { text: check.hint ?? '', markdown: check.hint ?? '' },
          defaultConfiguration: { level: 'error' },
          properties: { tags: ['security', 'secret'], precision: 'high', 'security-severity': '9.0' },
        });
        results.push({
          ruleId: id,
          ruleIndex: index,
          level,
          message: {
            text: `${report.image.name}: ${s.rule} in /${s.path}${s.line ? `:${s.line}` : ''} (layer ${s.layer}, ${s.masked})` +
              (s.removedInLayer ? `; removed by later layer ${s.removedInLayer.layer} but still in the image history` : ''),
          },
          locations: location(),
          partialFingerprints: { primaryLocationLineHash: fingerprint(report.image.name, id, s.path, String(s.line ?? 0)) },
        });
      }
      continue;
    }
    const id = `auren/${check.id}`;
    const index = addRule({
      id,
      name: check.id.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase()),
      shortDescription: { text: check.title },
      fullDescription: { text: check.title },
      help: { text: check.hint ?? check.title, markdown: check.hint ?? check.title },
      defaultConfiguration: { level: 'error' },
      properties: { tags: ['security', 'container'], precision: 'very-high', ...(check.id === 'root-user' ? { 'security-severity': '7.0' } : {}) },
    });
    results.push({
      ruleId: id,
      ruleIndex: index,
      level,
      message: { text: `${report.image.name}: ${check.message}${check.hint ? `. ${check.hint}` : ''}` },
      locations: location(),
      partialFingerprints: { primaryLocationLineHash: fingerprint(report.image.name, id) },
    });
  }

  const scanner = report.vulnerabilityScan.status === 'scanned' ? report.vulnerabilityScan.scanner : undefined;
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'auren-image-scan',
            informationUri: 'https://github.com/auren/auren',
            semanticVersion: toolVersion,
            version: toolVersion,
            rules,
          },
        },
        automationDetails: { id: `auren-image-scan/${report.image.project}/` },
        results,
        properties: {
          image: report.image.name,
          digest: report.image.digest,
          verdict: report.verdict,
          scanner: scanner ? `${scanner.name} ${scanner.version} (db ${scanner.db})` : 'not scanned',
        },
      },
    ],
  };
}

function table(rows: string[][]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

/** report.txt: what a person reads in a CI log or a terminal. */
export function buildTable(report: CombinedReport): string {
  const lines: string[] = [];
  const scan = report.vulnerabilityScan;
  lines.push(`Image:    ${report.image.name}`);
  lines.push(`Digest:   ${report.image.digest}`);
  lines.push(`Registry: ${report.registry}`);
  lines.push(`Scanner:  ${scan.status === 'scanned' ? `${scan.scanner.name} ${scan.scanner.version} (db ${scan.scanner.db})` : `not scanned — ${scan.summary}`}`);
  lines.push(`Verdict:  ${report.verdict.toUpperCase()}`);
  lines.push('');
  lines.push('Checks');
  lines.push(...table([['STATUS', 'CHECK', 'RESULT'], ...report.checks.map((c) => [c.status.toUpperCase(), c.id, c.message])]));
  for (const c of report.checks) {
    if (c.status !== 'pass' && c.hint) lines.push(`  → ${c.id}: ${c.hint}`);
  }
  const secrets = report.checks.flatMap((c) => c.secrets ?? []);
  if (secrets.length > 0) {
    lines.push('');
    lines.push('Secrets (values masked)');
    lines.push(
      ...table([
        ['RULE', 'PATH', 'LAYER', 'MASKED', 'NOTE'],
        ...secrets.map((s) => [
          s.rule,
          `/${s.path}${s.line ? `:${s.line}` : ''}`,
          s.layer.slice(0, 19),
          s.masked,
          s.removedInLayer ? `${s.removedInLayer.how} in ${s.removedInLayer.layer.slice(0, 19)}, still in history` : '',
        ]),
      ]),
    );
  }
  lines.push('');
  if (scan.status === 'not-scanned') {
    lines.push(`Vulnerabilities: NOT SCANNED (${scan.summary})`);
    lines.push(`  ${scan.reason}`);
  } else {
    const g = report.gate;
    lines.push(
      `Vulnerabilities: ${SEVERITY_ORDER.map((s) => `${s} ${g.counts[s]}`).join(', ')} — blocking on ${g.blockOn.join(', ') || 'nothing'}: ${g.blocking.length} blocking, ${g.ignored.length} ignored`,
    );
    const blocking = new Set(g.blocking);
    const ignored = new Map(g.ignored.map((i) => [i.finding, i]));
    const sorted = [...report.findings].sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || a.id.localeCompare(b.id));
    if (sorted.length > 0) {
      lines.push(
        ...table([
          ['SEVERITY', 'ID', 'PACKAGE', 'INSTALLED', 'FIXED', 'GATE', 'PLATFORMS'],
          ...sorted.map((f) => {
            const ig = ignored.get(f);
            const gate = blocking.has(f)
              ? 'BLOCKING'
              : ig
                ? ig.reason === 'unfixed'
                  ? 'ignored (unfixed)'
                  : ig.reason === 'vex'
                    ? `accepted (VEX ${ig.statement?.status}${ig.statement?.justification ? `: ${ig.statement.justification}` : ''}, until ${ig.statement?.expires})`
                    : `ignored (rule${ig.rule?.expires ? ` until ${ig.rule.expires}` : ''})`
                : '-';
            return [f.severity, f.id, f.pkgName, f.installedVersion, f.fixedVersion ?? '', gate, (f.platforms ?? []).join(',') || '-'];
          }),
        ]),
      );
    }
  }
  for (const rule of report.gate.expiredRules) {
    lines.push(`Ignore rule ${rule.id} expired on ${rule.expires} and no longer applies (${rule.matched} finding(s) in this image).`);
  }
  for (const s of report.gate.expiredStatements ?? []) {
    if (s.matched > 0) lines.push(`OpenVEX statement ${s.vulnerability} (${s.file}) expired on ${s.expires} and no longer applies (${s.matched} finding(s) in this image).`);
  }
  for (const d of report.vex?.documents ?? []) {
    lines.push(`OpenVEX ${d.file} (${d.id}, by ${d.author}): ${d.statements} statement(s) in force; attested to the digest on push.`);
  }
  return `${lines.join('\n')}\n`;
}
