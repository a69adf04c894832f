import type { AurenConfig, IgnoreRule, Severity } from '../config/options';
import type { Finding } from './types';
import { emptyCounts, severityRank } from './severity';
import { statementMatches, vexAcceptance, type VexSelection, type VexStatement } from './vex';

export type GatePolicy = Pick<AurenConfig['scan'], 'severity' | 'ignoreUnfixed' | 'ignore'> & {
  /** OpenVEX statements, already split by `selectInForce` for the same day. */
  vex?: VexSelection;
};

export interface IgnoredFinding {
  finding: Finding;
  reason: 'ignore-rule' | 'vex' | 'unfixed';
  rule?: IgnoreRule;
  /** The OpenVEX statement that accepts it (reason `vex`). */
  statement?: VexStatement;
}

export interface ExpiredStatement extends VexStatement {
  /** Findings in this report that the statement would have covered before it expired. */
  matched: number;
}

export interface ExpiredRule extends IgnoreRule {
  expires: string;
  /** Findings in this report that the rule would have covered before it expired. */
  matched: number;
}

export interface GateResult {
  /**
   * `blocked`: at least one finding at a blocking severity is not ignored.
   * `warn`: nothing blocks, but an ignore rule has expired and should be removed or renewed.
   */
  verdict: 'pass' | 'warn' | 'blocked';
  /** Severities that block, from policy (default HIGH, CRITICAL). */
  blockOn: Severity[];
  blocking: Finding[];
  ignored: IgnoredFinding[];
  expiredRules: ExpiredRule[];
  /** OpenVEX statements past their window (vex.ts: 180 days from their timestamp). */
  expiredStatements: ExpiredStatement[];
  /** Every finding in the report, by severity (ignored ones included). */
  counts: Record<Severity, number>;
  /** The day (UTC, YYYY-MM-DD) the expiry dates were compared with. */
  evaluatedOn: string;
}

const sameId = (a: string, b: string) => a.toUpperCase() === b.toUpperCase();

function ruleMatches(rule: IgnoreRule, finding: Finding): boolean {
  return sameId(rule.id, finding.id) || (finding.aliases ?? []).some((alias) => sameId(rule.id, alias));
}

/**
 * Pure policy decision over a scanner's findings. An ignore rule applies up to and including its
 * `expires` day (UTC); from the next day the finding counts again and the rule is listed as
 * expired, so the report says why a once-accepted vulnerability now blocks. OpenVEX statements
 * (vex.ts) accept findings the same way, within their window; an expired one that still matches
 * a finding turns a pass into a warning, as an expired rule does.
 */
export function evaluateGate(findings: readonly Finding[], policy: GatePolicy, now: Date): GateResult {
  const evaluatedOn = now.toISOString().slice(0, 10);
  const active = policy.ignore.filter((rule) => !rule.expires || evaluatedOn <= rule.expires);
  const expired = policy.ignore.filter((rule) => rule.expires && evaluatedOn > rule.expires);
  const counts = emptyCounts();
  const blocking: Finding[] = [];
  const ignored: IgnoredFinding[] = [];
  for (const finding of findings) {
    counts[finding.severity] += 1;
    const rule = active.find((r) => ruleMatches(r, finding));
    if (rule) {
      ignored.push({ finding, reason: 'ignore-rule', rule });
      continue;
    }
    // The gate decides from the statements itself: a finding the scanner suppressed that no
    // statement in force accepts here counts like any other.
    const statement = policy.vex ? vexAcceptance(finding, policy.vex.inForce) : undefined;
    if (statement) {
      ignored.push({ finding, reason: 'vex', statement });
      continue;
    }
    if (policy.ignoreUnfixed && !finding.fixedVersion) {
      ignored.push({ finding, reason: 'unfixed' });
      continue;
    }
    if (policy.severity.includes(finding.severity)) blocking.push(finding);
  }
  blocking.sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || a.id.localeCompare(b.id));
  const expiredRules: ExpiredRule[] = expired.map((rule) => ({
    ...rule,
    expires: rule.expires as string,
    matched: findings.filter((f) => ruleMatches(rule, f)).length,
  }));
  const expiredStatements: ExpiredStatement[] = (policy.vex?.expired ?? []).map((statement) => ({
    ...statement,
    matched: findings.filter((f) => statementMatches(statement, f)).length,
  }));
  const verdict = blocking.length > 0 ? 'blocked' : expiredRules.length > 0 || expiredStatements.some((s) => s.matched > 0) ? 'warn' : 'pass';
  return { verdict, blockOn: [...policy.severity], blocking, ignored, expiredRules, expiredStatements, counts, evaluatedOn };
}
