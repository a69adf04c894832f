import type { IgnoreRule, Severity } from '../config/options';
import { evaluateGate, type GatePolicy } from './gate';
import type { Finding } from './types';

const f = (id: string, severity: Severity, fixedVersion?: string, aliases?: string[]): Finding => ({
  id,
  severity,
  pkgName: `pkg-${id}`,
  installedVersion: '1.0',
  ...(fixedVersion ? { fixedVersion } : {}),
  ...(aliases ? { aliases } : {}),
});

const policy = (overrides: Partial<GatePolicy> = {}): GatePolicy => ({
  severity: ['HIGH', 'CRITICAL'],
  ignoreUnfixed: false,
  ignore: [],
  ...overrides,
});

const NOW = new Date('2025-06-15T12:00:00Z');

describe('evaluateGate', () => {
  const cases: Array<{
    name: string;
    findings: Finding[];
    policy: GatePolicy;
    verdict: 'pass' | 'warn' | 'blocked';
    blocking: string[];
    ignored?: Array<[string, 'ignore-rule' | 'unfixed']>;
    expired?: string[];
  }> = [
    // One case a line: the table reads as a truth table of the gate.
    { name: 'no findings pass', findings: [], policy: policy(), verdict: 'pass', blocking: [] },
    { name: 'CRITICAL blocks by default', findings: [f('CVE-1', 'CRITICAL', '2')], policy: policy(), verdict: 'blocked', blocking: ['CVE-1'] },
    { name: 'HIGH blocks by default', findings: [f('CVE-1', 'HIGH', '2')], policy: policy(), verdict: 'blocked', blocking: ['CVE-1'] },
    { name: 'MEDIUM, LOW and UNKNOWN do not block by default', findings: [f('CVE-1', 'MEDIUM'), f('CVE-2', 'LOW'), f('CVE-3', 'UNKNOWN')], policy: policy(), verdict: 'pass', blocking: [] },
    { name: 'configured threshold CRITICAL only lets HIGH through', findings: [f('CVE-1', 'HIGH'), f('CVE-2', 'CRITICAL')], policy: policy({ severity: ['CRITICAL'] }), verdict: 'blocked', blocking: ['CVE-2'] },
    { name: 'configured MEDIUM blocks MEDIUM', findings: [f('CVE-1', 'MEDIUM')], policy: policy({ severity: ['MEDIUM', 'HIGH', 'CRITICAL'] }), verdict: 'blocked', blocking: ['CVE-1'] },
    { name: 'ignoreUnfixed drops findings without a fixed version', findings: [f('CVE-1', 'CRITICAL'), f('CVE-2', 'HIGH', '1.1')], policy: policy({ ignoreUnfixed: true }), verdict: 'blocked', blocking: ['CVE-2'], ignored: [['CVE-1', 'unfixed']] },
    { name: 'unfixed findings still block without ignoreUnfixed', findings: [f('CVE-1', 'CRITICAL')], policy: policy(), verdict: 'blocked', blocking: ['CVE-1'] },
    { name: 'ignore rule without expiry applies', findings: [f('CVE-1', 'CRITICAL', '2')], policy: policy({ ignore: [{ id: 'CVE-1', reason: 'not reachable' }] }), verdict: 'pass', blocking: [], ignored: [['CVE-1', 'ignore-rule']] },
    { name: 'ignore rule applies through its expiry day', findings: [f('CVE-1', 'CRITICAL', '2')], policy: policy({ ignore: [{ id: 'CVE-1', expires: '2025-06-15' }] }), verdict: 'pass', blocking: [], ignored: [['CVE-1', 'ignore-rule']] },
    { name: 'expired ignore rule no longer applies and is reported', findings: [f('CVE-1', 'CRITICAL', '2')], policy: policy({ ignore: [{ id: 'CVE-1', expires: '2025-06-14' }] }), verdict: 'blocked', blocking: ['CVE-1'], expired: ['CVE-1'] },
    { name: 'expired rule that matches nothing blocking still warns', findings: [f('CVE-1', 'LOW')], policy: policy({ ignore: [{ id: 'CVE-9', expires: '2024-01-01' }] }), verdict: 'warn', blocking: [], expired: ['CVE-9'] },
    { name: 'ignore rule matches an alias and is case-insensitive', findings: [f('GHSA-aaaa-bbbb-cccc', 'HIGH', '2', ['CVE-2024-0001'])], policy: policy({ ignore: [{ id: 'cve-2024-0001' }] }), verdict: 'pass', blocking: [], ignored: [['GHSA-aaaa-bbbb-cccc', 'ignore-rule']] },
    { name: 'ignore rule takes precedence over unfixed', findings: [f('CVE-1', 'HIGH')], policy: policy({ ignoreUnfixed: true, ignore: [{ id: 'CVE-1' }] }), verdict: 'pass', blocking: [], ignored: [['CVE-1', 'ignore-rule']] },
  ];

  it.each(cases)('$name', ({ findings, policy: p, verdict, blocking, ignored = [], expired = [] }) => {
    const gate = evaluateGate(findings, p, NOW);
    expect(gate.verdict).toBe(verdict);
    expect(gate.blocking.map((x) => x.id)).toEqual(blocking);
    expect(gate.ignored.map((i) => [i.finding.id, i.reason])).toEqual(ignored);
    expect(gate.expiredRules.map((r) => r.id)).toEqual(expired);
    expect(gate.evaluatedOn).toBe('2025-06-15');
  });

  it('counts every finding by severity, ignored ones included, and sorts blocking CRITICAL first', () => {
    const rules: IgnoreRule[] = [{ id: 'CVE-3' }];
    const gate = evaluateGate(
      [f('CVE-2', 'HIGH', '1'), f('CVE-1', 'CRITICAL', '1'), f('CVE-3', 'CRITICAL'), f('CVE-4', 'LOW')],
      policy({ ignore: rules }),
      NOW,
    );
    expect(gate.counts).toEqual({ CRITICAL: 2, HIGH: 1, MEDIUM: 0, LOW: 1, UNKNOWN: 0 });
    expect(gate.blocking.map((x) => x.id)).toEqual(['CVE-1', 'CVE-2']);
    expect(gate.blockOn).toEqual(['HIGH', 'CRITICAL']);
  });

  it('reports how many findings an expired rule would have covered', () => {
    const gate = evaluateGate([f('CVE-1', 'HIGH'), f('CVE-1', 'HIGH')], policy({ ignore: [{ id: 'CVE-1', expires: '2020-01-01', reason: 'x' }] }), NOW);
    expect(gate.expiredRules).toEqual([{ id: 'CVE-1', expires: '2020-01-01', reason: 'x', matched: 2 }]);
  });
});
