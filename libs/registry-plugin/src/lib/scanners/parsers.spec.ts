import { createScanner } from './adapters';
import { grypeAdapter, parseGrypeIdentity, parseGrypeReport } from './grype';
import { parseTrivyReport, parseTrivyVersion, trivyAdapter } from './trivy';
import { InvalidReportError } from './types';
import { normalizeSeverity } from './severity';

/** Shape of `trivy image -f json` (schema v2), trimmed from Trivy's documented output. */
const TRIVY_REPORT = {
  SchemaVersion: 2,
  CreatedAt: '2024-11-27T10:00:00.000000000Z',
  ArtifactName: 'dist/images/auren-api/oci',
  ArtifactType: 'container_image',
  Metadata: {
    OS: { Family: 'debian', Name: '12.8' },
    ImageID: 'sha256:1111111111111111111111111111111111111111111111111111111111111111',
    DiffIDs: ['sha256:2222222222222222222222222222222222222222222222222222222222222222'],
    RepoDigests: [],
    ImageConfig: { architecture: 'amd64', os: 'linux', config: { User: '10001' } },
  },
  Results: [
    {
      Target: 'dist/images/auren-api/oci (debian 12.8)',
      Class: 'os-pkgs',
      Type: 'debian',
      Vulnerabilities: [
        {
          VulnerabilityID: 'CVE-2024-5535',
          PkgID: 'libssl3@3.0.11-1~deb12u2',
          PkgName: 'libssl3',
          InstalledVersion: '3.0.11-1~deb12u2',
          FixedVersion: '3.0.14-1~deb12u1',
          Status: 'fixed',
          Layer: { Digest: 'sha256:aa', DiffID: 'sha256:bb' },
          SeveritySource: 'nvd',
          PrimaryURL: 'https://avd.aquasec.com/nvd/cve-2024-5535',
          Title: 'openssl: SSL_select_next_proto buffer overread',
          Description: '...',
          Severity: 'CRITICAL',
          CweIDs: ['CWE-200'],
          References: ['https://nvd.nist.gov/vuln/detail/CVE-2024-5535'],
        },
        {
          VulnerabilityID: 'CVE-2023-45853',
          PkgID: 'zlib1g@1:1.2.13.dfsg-1',
          PkgName: 'zlib1g',
          InstalledVersion: '1:1.2.13.dfsg-1',
          Status: 'will_not_fix',
          Severity: 'CRITICAL',
          Title: 'zlib: integer overflow and resultant heap-based buffer overflow in zipOpenNewFileInZip4_6',
        },
      ],
    },
    {
      Target: 'usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA',
      Class: 'lang-pkgs',
      Type: 'python-pkg',
      Vulnerabilities: [
        {
          VulnerabilityID: 'CVE-2024-35195',
          PkgName: 'requests',
          InstalledVersion: '2.31.0',
          FixedVersion: '2.32.0',
          Status: 'fixed',
          Severity: 'MEDIUM',
        },
      ],
    },
    { Target: 'Python', Class: 'lang-pkgs', Type: 'python-pkg' },
  ],
};

/** Shape of `grype -o json` (presenter/models.Document), trimmed. */
const GRYPE_REPORT = {
  matches: [
    {
      vulnerability: {
        id: 'CVE-2024-5535',
        dataSource: 'https://security-tracker.debian.org/tracker/CVE-2024-5535',
        namespace: 'debian:distro:debian:12',
        severity: 'Critical',
        urls: ['https://security-tracker.debian.org/tracker/CVE-2024-5535'],
        description: 'Issue summary: Calling the OpenSSL API function SSL_select_next_proto with an empty supported client protocols buffer may cause a crash or memory contents to be sent to the peer.\nMore text.',
        cvss: [],
        fix: { versions: ['3.0.14-1~deb12u1'], state: 'fixed' },
        advisories: [],
      },
      relatedVulnerabilities: [{ id: 'CVE-2024-5535', dataSource: 'https://nvd.nist.gov/vuln/detail/CVE-2024-5535', namespace: 'nvd:cpe' }],
      matchDetails: [{ type: 'exact-indirect-match', matcher: 'dpkg-matcher', searchedBy: {}, found: {} }],
      artifact: {
        id: 'f0a1b2c3d4e5',
        name: 'libssl3',
        version: '3.0.11-1~deb12u2',
        type: 'deb',
        locations: [{ path: '/var/lib/dpkg/status', layerID: 'sha256:bb' }],
        language: '',
        licenses: [],
        cpes: [],
        purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12',
        upstreams: [{ name: 'openssl' }],
      },
    },
    {
      vulnerability: { id: 'GHSA-9wx4-h78v-vm56', dataSource: '', severity: 'Medium', fix: { versions: ['2.32.0'], state: 'fixed' }, advisories: [] },
      relatedVulnerabilities: [{ id: 'CVE-2024-35195' }],
      matchDetails: [],
      artifact: { id: 'x', name: 'requests', version: '2.31.0', type: 'python', locations: [], licenses: [], cpes: [], purl: '', upstreams: [] },
    },
    {
      vulnerability: { id: 'CVE-2011-3374', severity: 'Negligible', fix: { versions: [], state: 'not-fixed' }, advisories: [] },
      relatedVulnerabilities: [],
      matchDetails: [],
      artifact: { id: 'y', name: 'apt', version: '2.6.1', type: 'deb', locations: [], licenses: [], cpes: [], purl: '', upstreams: [] },
    },
  ],
  source: { type: 'image', target: { userInput: 'oci-dir:dist/images/auren-api/oci' } },
  distro: { name: 'debian', version: '12', idLike: [] },
  descriptor: { name: 'grype', version: '0.86.1', db: { status: {} }, timestamp: '2024-11-27T10:00:00Z' },
};

describe('trivy adapter', () => {
  it('scans the OCI layout once, pinned to the digest, JSON to a file, vulnerabilities only', () => {
    expect(trivyAdapter.scanArgs({ layoutDir: '/w/oci', digest: 'sha256:abc', outputFile: '/w/scan/trivy.json' })).toEqual([
      'image', '--input', '/w/oci@sha256:abc', '--scanners', 'vuln', '--format', 'json', '--list-all-pkgs=true', '--output', '/w/scan/trivy.json', '--quiet', '--skip-version-check', '--disable-telemetry',
    ]);
    expect(trivyAdapter.scanArgs({ layoutDir: '/w/oci', outputFile: '/o.json' })[2]).toBe('/w/oci');
  });

  it('parses every vulnerability of every result into findings', () => {
    expect(parseTrivyReport(JSON.stringify(TRIVY_REPORT))).toEqual([
      // One finding a line, as Trivy lists them.
      { id: 'CVE-2024-5535', severity: 'CRITICAL', pkgName: 'libssl3', installedVersion: '3.0.11-1~deb12u2', fixedVersion: '3.0.14-1~deb12u1', title: 'openssl: SSL_select_next_proto buffer overread', target: 'dist/images/auren-api/oci (debian 12.8)' },
      { id: 'CVE-2023-45853', severity: 'CRITICAL', pkgName: 'zlib1g', installedVersion: '1:1.2.13.dfsg-1', title: 'zlib: integer overflow and resultant heap-based buffer overflow in zipOpenNewFileInZip4_6', target: 'dist/images/auren-api/oci (debian 12.8)' },
      { id: 'CVE-2024-35195', severity: 'MEDIUM', pkgName: 'requests', installedVersion: '2.31.0', fixedVersion: '2.32.0', target: 'usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA' },
    ]);
  });

  it('accepts a clean report, where Results is omitted', () => {
    expect(parseTrivyReport(JSON.stringify({ SchemaVersion: 2, ArtifactName: 'x', ArtifactType: 'container_image' }))).toEqual([]);
  });

  it.each([
    ['not JSON', '{"SchemaVersion": 2, "Arti'],
    ['empty output', ''],
    ['a Grype document', JSON.stringify(GRYPE_REPORT)],
    ['the legacy (schema 1) list', JSON.stringify([{ Target: 'x', Vulnerabilities: null }])],
    ['Results not a list', JSON.stringify({ SchemaVersion: 2, ArtifactName: 'x', Results: {} })],
    ['a vulnerability without id', JSON.stringify({ SchemaVersion: 2, ArtifactName: 'x', Results: [{ Vulnerabilities: [{ PkgName: 'a' }] }] })],
  ])('rejects %s', (_name, text) => {
    expect(() => parseTrivyReport(text)).toThrow(InvalidReportError);
  });

  it.each([
    [
      '{"Version":"0.56.2","VulnerabilityDB":{"Version":2,"NextUpdate":"2024-11-27T12:11:44Z","UpdatedAt":"2024-11-27T06:11:44Z","DownloadedAt":"2024-11-27T07:00:00Z"}}',
      { name: 'trivy', version: '0.56.2', db: '2@2024-11-27T06:11:44Z' },
    ],
    ['{"Version":"0.56.2"}', { name: 'trivy', version: '0.56.2', db: 'none' }],
  ])('identifies from `trivy version --format json`: %s', (text, expected) => {
    expect(parseTrivyVersion(text)).toEqual(expected);
  });
});

describe('grype adapter', () => {
  it('scans the OCI layout through oci-dir:, JSON to a file, CVE-oriented', () => {
    expect(grypeAdapter.scanArgs({ layoutDir: '/w/oci', digest: 'sha256:abc', outputFile: '/w/scan/grype.json' })).toEqual([
      'oci-dir:/w/oci', '--by-cve', '-o', 'json', '--file', '/w/scan/grype.json', '-q',
    ]);
  });

  it('parses matches into findings, mapping severities, fix state and related ids', () => {
    expect(parseGrypeReport(JSON.stringify(GRYPE_REPORT))).toEqual([
      {
        id: 'CVE-2024-5535',
        severity: 'CRITICAL',
        pkgName: 'libssl3',
        installedVersion: '3.0.11-1~deb12u2',
        fixedVersion: '3.0.14-1~deb12u1',
        title: expect.stringMatching(/^Issue summary: Calling the OpenSSL API function .{60,}\.\.\.$/),
        target: '/var/lib/dpkg/status',
        purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12',
      },
      { id: 'GHSA-9wx4-h78v-vm56', severity: 'MEDIUM', pkgName: 'requests', installedVersion: '2.31.0', fixedVersion: '2.32.0', aliases: ['CVE-2024-35195'] },
      { id: 'CVE-2011-3374', severity: 'LOW', pkgName: 'apt', installedVersion: '2.6.1' },
    ]);
  });

  it('accepts a clean report (matches is an empty list)', () => {
    expect(parseGrypeReport(JSON.stringify({ ...GRYPE_REPORT, matches: [] }))).toEqual([]);
  });

  it.each([
    ['truncated JSON', '{\n "matches": [\n  {'],
    ['a Trivy report', JSON.stringify(TRIVY_REPORT)],
    ['matches null', JSON.stringify({ ...GRYPE_REPORT, matches: null })],
    ['a match without artifact', JSON.stringify({ ...GRYPE_REPORT, matches: [{ vulnerability: { id: 'x' } }] })],
  ])('rejects %s', (_name, text) => {
    expect(() => parseGrypeReport(text)).toThrow(InvalidReportError);
  });

  it.each([
    [
      '{"schemaVersion":"6.0.0","built":"2024-11-27T14:43:17Z","path":"/db","checksum":"xxh64:89d3ae128f6e718e","error":""}',
      '6.0.0@2024-11-27T14:43:17Z',
    ],
    ['{"schemaVersion":"6.0.0","built":"0001-01-01T00:00:00Z","path":"/db","checksum":"","error":"database does not exist"}', 'none'],
    ['', 'none'],
  ])('identifies the database from `grype db status -o json`: %s', (status, db) => {
    const version = '{\n "application": "grype",\n "version": "0.86.1",\n "buildDate": "2024-11-26T20:40:01Z",\n "platform": "linux/amd64"\n}';
    expect(parseGrypeIdentity(version, status)).toEqual({ name: 'grype', version: '0.86.1', db });
  });
});

describe('createScanner', () => {
  it.each([
    ['trivy', trivyAdapter],
    ['grype', grypeAdapter],
  ] as const)('%s', (name, adapter) => {
    expect(createScanner(name)).toBe(adapter);
  });
});

describe('severity labels', () => {
  it('the adapters map onto exactly the severities the options allow', () => {
    // severity.ts spells them itself so the adapters load without the options' schema validator.
    const { SEVERITIES } = jest.requireActual<{ SEVERITIES: readonly string[] }>('../config/options');
    for (const label of SEVERITIES) expect(normalizeSeverity(label.toLowerCase())).toBe(label);
    expect(normalizeSeverity('bogus')).toBe('UNKNOWN');
  });
});

describe('trivy with OpenVEX documents', () => {
  it('passes each with --vex and keeps what they suppress in the report (--show-suppressed)', () => {
    expect(trivyAdapter.scanArgs({ layoutDir: '/w/oci', outputFile: '/w/r.json', vexFiles: ['/w/scan/vex/01-a.json', '/w/scan/vex/02-b.json'] }).slice(-5)).toEqual([
      '--vex', '/w/scan/vex/01-a.json', '--vex', '/w/scan/vex/02-b.json', '--show-suppressed',
    ]);
    expect(trivyAdapter.scanArgs({ layoutDir: '/w/oci', outputFile: '/w/r.json' })).not.toContain('--show-suppressed');
  });

  it('reads a suppressed vulnerability back as a finding the gate decides on, with its package URL', () => {
    const vuln = { VulnerabilityID: 'CVE-2026-90001', PkgName: 'python3-fastapi', InstalledVersion: '0.92.0-1', FixedVersion: '0.92.0-1+deb12u1', Severity: 'CRITICAL', PkgIdentifier: { PURL: 'pkg:deb/debian/python3-fastapi@0.92.0-1?arch=all&distro=debian-12' } };
    const report = { SchemaVersion: 2, ArtifactName: 'x', Results: [{ Target: 't', ExperimentalModifiedFindings: [{ Type: 'vulnerability', Status: 'not_affected', Statement: 'vulnerable_code_not_in_execute_path', Source: 'OpenVEX', Finding: vuln }] }] };
    expect(parseTrivyReport(JSON.stringify(report))).toEqual([
      expect.objectContaining({ id: 'CVE-2026-90001', purl: vuln.PkgIdentifier.PURL, suppressedByScanner: { status: 'not_affected', statement: 'vulnerable_code_not_in_execute_path', source: 'OpenVEX' } }),
    ]);
  });
});
