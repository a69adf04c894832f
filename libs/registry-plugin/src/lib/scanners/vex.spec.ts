/**
 * OpenVEX documents are outside input kept in the repository: bounded, validated, named in every
 * error; and their statements accept findings only within their window (180 days from their
 * timestamp), matched by package URL the way Trivy matches them.
 */
import fc from 'fast-check';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateGate } from './gate';
import type { Finding } from './types';
import { loadVexDocuments, parseVexDocument, purlMatches, selectInForce, vexAcceptance, VEX_MAX_BYTES } from './vex';

const NOW = new Date('2026-12-01T12:00:00Z');
const FASTAPI = 'pkg:deb/debian/python3-fastapi@0.92.0-1?arch=all&distro=debian-12';
const finding: Finding = { id: 'CVE-2026-90001', severity: 'CRITICAL', pkgName: 'python3-fastapi', installedVersion: '0.92.0-1', fixedVersion: '0.92.0-1+deb12u1', purl: FASTAPI };

function doc(statements: object[], timestamp = '2026-11-01T00:00:00Z'): Record<string, unknown> {
  return { '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://auren.test/vex/api', author: 'platform team', timestamp, version: 1, statements };
}
const notAffected = (extra: object = {}) => ({
  vulnerability: { name: 'CVE-2026-90001' },
  products: [{ '@id': 'pkg:deb/debian/python3-fastapi' }],
  status: 'not_affected',
  justification: 'vulnerable_code_not_in_execute_path',
  ...extra,
});
const parse = (d: object, file = 'vex/api.openvex.json') => parseVexDocument(JSON.stringify(d), file, NOW);

describe('parseVexDocument refuses what is not a usable OpenVEX document, naming the file', () => {
  it.each([
    ['not JSON', '{', /not JSON/],
    ['another format', JSON.stringify({ bomFormat: 'CycloneDX' }), /"@context" is not https:\/\/openvex\.dev/],
    ['no statements', JSON.stringify(doc([])), /"statements" is missing or empty/],
    ['not_affected without a reason', JSON.stringify(doc([{ ...notAffected(), justification: undefined }])), /not_affected needs a "justification" or an "impact_statement"/],
    ['an unknown justification', JSON.stringify(doc([notAffected({ justification: 'trust me' })])), /"justification" must be one of/],
    ['an unknown status', JSON.stringify(doc([notAffected({ status: 'fine' })])), /"status" must be one of/],
    ['a product that is not a package URL', JSON.stringify(doc([notAffected({ products: [{ '@id': 'python3-fastapi' }] })])), /package URL/],
    ['an image product Trivy cannot match', JSON.stringify(doc([notAffected({ products: [{ '@id': 'pkg:oci/auren-api?repository_url=127.0.0.1:5000/auren/auren-api' }] })])), /is an image; name the package/],
    ['a timestamp in the future (it would stretch its window)', JSON.stringify(doc([notAffected({ timestamp: '2027-06-01T00:00:00Z' })])), /in the future/],
  ])('%s', (_name, text, message) => {
    expect(() => parseVexDocument(text, 'vex/api.openvex.json', NOW)).toThrow(expect.objectContaining({ kind: 'config', message: expect.stringMatching(/^OpenVEX document vex\/api\.openvex\.json: /) }));
    expect(() => parseVexDocument(text, 'vex/api.openvex.json', NOW)).toThrow(message);
  });
});

describe('loadVexDocuments', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'auren-vex-'));
    await mkdir(join(root, 'vex', 'apps'), { recursive: true });
    await writeFile(join(root, 'vex', 'apps', 'api.openvex.json'), JSON.stringify(doc([notAffected()])));
    await writeFile(join(root, 'vex', 'big.openvex.json'), ' '.repeat(VEX_MAX_BYTES + 1));
    await writeFile(join(root, 'outside.json'), JSON.stringify(doc([notAffected()])));
    await symlink(join(root, 'outside.json'), join(root, 'vex', 'link.json'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('expands globs relative to the workspace root', async () => {
    const docs = await loadVexDocuments(['vex/apps/*.json'], root, NOW);
    expect(docs.map((d) => [d.file, d.statements.length])).toEqual([['vex/apps/api.openvex.json', 1]]);
  });

  it.each([
    [['../elsewhere.json'], /outside the workspace/],
    [['/etc/passwd'], /outside the workspace/],
    [['vex/missing.json'], /vex\/missing\.json: no such file/],
    [['vex/big.openvex.json'], /vex\/big\.openvex\.json: \d+ bytes; at most 1048576/],
  ])('refuses %j', async (patterns, message) => {
    await expect(loadVexDocuments(patterns, root, NOW)).rejects.toThrow(message);
  });

  it('refuses a link out of the workspace', async () => {
    const inner = join(root, 'ws');
    await mkdir(join(inner, 'vex'), { recursive: true });
    await symlink(join(root, 'outside.json'), join(inner, 'vex', 'escape.json'));
    await expect(loadVexDocuments(['vex/escape.json'], inner, NOW)).rejects.toThrow(/links to .*outside the workspace/);
  });
});

describe('statements in force', () => {
  it('a statement applies for 180 days from its timestamp (inclusive, UTC), then is listed as expired', () => {
    const d = parse(doc([notAffected({ timestamp: '2026-06-04T10:00:00Z' })]));
    expect(d.statements[0].expires).toBe('2026-12-01');
    expect(selectInForce([d], new Date('2026-12-01T23:00:00Z')).inForce).toHaveLength(1);
    const later = selectInForce([d], new Date('2026-12-02T00:00:00Z'));
    expect(later.inForce).toEqual([]);
    expect(later.expired.map((s) => s.vulnerability)).toEqual(['CVE-2026-90001']);
  });

  it('the copy Trivy reads and docker-push attests holds only the statements in force', () => {
    const d = parse(doc([notAffected({ timestamp: '2026-01-01T00:00:00Z' }), notAffected({ vulnerability: { name: 'CVE-2026-90003' }, timestamp: '2026-11-01T00:00:00Z' })]));
    const { inForce } = selectInForce([d], NOW);
    expect((inForce[0].raw['statements'] as Array<{ vulnerability: { name: string } }>).map((s) => s.vulnerability.name)).toEqual(['CVE-2026-90003']);
  });
});

describe('the gate with OpenVEX', () => {
  const policy = (docs: ReturnType<typeof parse>[]) => ({ severity: ['HIGH', 'CRITICAL'] as const, ignoreUnfixed: false, ignore: [], vex: selectInForce(docs, NOW) });

  it('a not_affected statement in force accepts the finding, naming the statement', () => {
    const gate = evaluateGate([finding], { ...policy([parse(doc([notAffected()]))]), severity: ['HIGH', 'CRITICAL'] }, NOW);
    expect(gate.verdict).toBe('pass');
    expect(gate.ignored).toEqual([expect.objectContaining({ reason: 'vex', statement: expect.objectContaining({ justification: 'vulnerable_code_not_in_execute_path', expires: '2027-04-30' }) })]);
  });

  it('an expired one does not, and says so', () => {
    const gate = evaluateGate([finding], { ...policy([parse(doc([notAffected()], '2026-01-01T00:00:00Z'))]), severity: ['HIGH', 'CRITICAL'] }, NOW);
    expect(gate.verdict).toBe('blocked');
    expect(gate.expiredStatements).toEqual([expect.objectContaining({ vulnerability: 'CVE-2026-90001', expires: '2026-06-30', matched: 1 })]);
  });

  it('a newer affected statement in the same document overrides an older not_affected', () => {
    const d = parse(doc([notAffected({ timestamp: '2026-10-01T00:00:00Z' }), { vulnerability: { name: 'CVE-2026-90001' }, products: [{ '@id': 'pkg:deb/debian/python3-fastapi' }], status: 'affected', action_statement: 'upgrade', timestamp: '2026-11-15T00:00:00Z' }]));
    expect(vexAcceptance(finding, selectInForce([d], NOW).inForce)).toBeUndefined();
  });

  it('another package or another vulnerability is not accepted', () => {
    const docs = selectInForce([parse(doc([notAffected()]))], NOW).inForce;
    expect(vexAcceptance({ ...finding, purl: 'pkg:deb/debian/gzip@1.12-1?arch=amd64' }, docs)).toBeUndefined();
    expect(vexAcceptance({ ...finding, id: 'CVE-2026-90002' }, docs)).toBeUndefined();
    expect(vexAcceptance({ ...finding, purl: undefined }, docs)).toBeUndefined();
  });
});

describe('purlMatches (as go-vex matches package URLs)', () => {
  it.each([
    ['pkg:deb/debian/python3-fastapi', FASTAPI, true],
    ['pkg:deb/debian/python3-fastapi@0.92.0-1', FASTAPI, true],
    ['pkg:deb/debian/python3-fastapi@0.92.0-2', FASTAPI, false],
    ['pkg:deb/debian/python3-fastapi?distro=debian-12', FASTAPI, true],
    ['pkg:deb/debian/python3-fastapi?distro=debian-11', FASTAPI, false],
    ['pkg:deb/ubuntu/python3-fastapi', FASTAPI, false],
    ['pkg:pypi/fastapi', FASTAPI, false],
  ])('%s ~ %s → %p', (statement, pkg, expected) => {
    expect(purlMatches(statement, pkg)).toBe(expected);
  });

  it('a statement without version or qualifiers matches every version of its package', () => {
    const segment = fc.stringMatching(/^[a-z0-9][a-z0-9.+~-]{0,15}$/);
    fc.assert(
      fc.property(segment, segment, segment, (name, version, distro) => {
        expect(purlMatches(`pkg:deb/debian/${name}`, `pkg:deb/debian/${name}@${version}?arch=amd64&distro=${distro}`)).toBe(true);
        expect(purlMatches(`pkg:deb/debian/${name}x`, `pkg:deb/debian/${name}@${version}`)).toBe(false);
      }),
    );
  });
});
