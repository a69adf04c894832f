import type { AurenConfig, IgnoreRule, Severity } from '../config/options';
import type { Finding } from './types';
import { emptyCounts, severityRank } from './severity';

export type GatePolicy = Pick<AurenConfig['scan'], 'severity' | 'ignoreUnfixed' | 'ignore'>;

export interface IgnoredFinding {
  finding: Finding;
  reason: 'ignore-rule' | 'unfixed';
  rule?: IgnoreRule;
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
 * expired, so the report says why a once-accepted vulnerability now blocks.
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
  const verdict = blocking.length > 0 ? 'blocked' : expiredRules.length > 0 ? 'warn' : 'pass';
  return { verdict, blockOn: [...policy.severity], blocking, ignored, expiredRules, counts, evaluatedOn };
}
