// @auren-test-tools trivy (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * The real Trivy (tools/test-tools.txt; `setup.sh --test-tools` puts it in tools/.bin) on real
 * OCI layouts, with the fixture vulnerability database built by tools/trivy-db and served from a
 * real distribution registry, the air-gapped way (`--db-repository`). The images hold Debian 12
 * dpkg records of packages that are in our images, read from this machine's own dpkg database.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { normalizeOptions, type AurenConfig, type IgnoreRule } from '../config/options';
import { exec, which } from '../exec/exec';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import type { ImageRecord } from '../reports/records';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { resolveScanDatabase } from './database';
import { scannerFingerprint } from './fingerprint';
import { runScanner } from './scan-image';
import { writeOciLayout, type Fixture, type FixtureImage } from './oci-fixture.testing';
import { buildFixtureDb, publishTrivyDb } from './trivy-db';
import { parseVexDocument, type VexDocument } from './vex';
import { createServer, type Server, type Socket } from 'node:net';

const WORKSPACE = resolve(__dirname, '../../../../..');
const ADVISORIES = join(WORKSPACE, 'tools/trivy-db/advisories.json');
const CRITICAL = 'CVE-2026-90001'; // fastapi, fixed in 0.92.0-1+deb12u1
const HIGH_UNFIXED = 'CVE-2026-90002'; // python-uvicorn, no fix
const MEDIUM = 'CVE-2026-90003'; // gzip (every image), fixed
const NOW = new Date('2026-12-01T12:00:00Z');

let registry: TestRegistry;
let client: RegistryClient;
let work: string;
let env: NodeJS.ProcessEnv;
let trivyVersion: string;
const fixtures: Fixture[] = [];

/** This machine's dpkg record of a package (Debian 12, as in our images), for another architecture if asked. */
async function dpkgRecord(pkg: string, arch?: string): Promise<string> {
  const { stdout } = await exec('dpkg-query', ['-s', pkg]);
  const record = stdout.trim().replace(/^Status: .*$/m, 'Status: install ok installed');
  return arch ? record.replace(/^Architecture: (?!all).*$/m, `Architecture: ${arch}`) : record;
}

async function debianImage(packages: string[], arch = 'amd64'): Promise<FixtureImage> {
  const records = await Promise.all(packages.map((p) => dpkgRecord(p, arch)));
  const osRelease = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n';
  return {
    user: '10001',
    platform: { os: 'linux', architecture: arch },
    layers: [[
      { name: 'etc/', type: 'directory' },
      { name: 'etc/os-release', content: osRelease },
      { name: 'etc/debian_version', content: '12.11\n' },
      { name: 'var/', type: 'directory' },
      { name: 'var/lib/', type: 'directory' },
      { name: 'var/lib/dpkg/', type: 'directory' },
      { name: 'var/lib/dpkg/status', content: `${records.join('\n\n')}\n` },
    ]],
  };
}

function configWith(scan: { ignore?: IgnoreRule[]; ignoreUnfixed?: boolean } = {}, namespace = 'auren'): AurenConfig {
  return normalizeOptions({ registry: registry.host, namespace, scan: { scanner: 'trivy', severity: ['HIGH', 'CRITICAL'], ...scan } }, {});
}

/** An OpenVEX document as a team keeps it in the repository: the fixture CRITICAL, not_affected. */
function criticalNotAffected(timestamp: string): VexDocument {
  const document = {
    '@context': 'https://openvex.dev/ns/v0.2.0',
    '@id': 'https://auren.test/vex/auren-api-2026-001',
    author: 'AUREN platform team',
    timestamp,
    version: 1,
    statements: [{
      vulnerability: { name: CRITICAL },
      products: [{ '@id': 'pkg:deb/debian/python3-fastapi' }],
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
      impact_statement: 'fixture: the affected endpoint is not mounted by auren-api',
    }],
  };
  return parseVexDocument(JSON.stringify(document), 'vex/auren-api.openvex.json', NOW);
}

async function scan(images: FixtureImage[], config: AurenConfig, extra: { vex?: VexDocument[]; env?: NodeJS.ProcessEnv } = {}) {
  const fixture = await writeOciLayout(images);
  fixtures.push(fixture);
  const record: ImageRecord = {
    schemaVersion: 1,
    project: 'auren-api',
    digest: fixture.digest,
    mediaType: images.length > 1 ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json',
    platforms: images.map((i) => `${i.platform?.os}/${i.platform?.architecture}`),
    size: fixture.size,
    labels: {},
    builder: { name: 'buildah', version: '1.28.2' },
  } as ImageRecord;
  const runEnv = extra.env ?? env;
  const database = await resolveScanDatabase(config, 'trivy', runEnv);
  const outcome = await runScanner({
    ...(extra.vex ? { vex: extra.vex } : {}),
    layoutDir: fixture.layoutDir,
    imageRecord: record,
    imageName: `${registry.host}/auren/auren-api`,
    policy: config.scan,
    budgets: config.budgets,
    registry: registry.host,
    reportDir: join(fixture.root, 'scan'),
    now: NOW,
    env: runEnv,
    database,
  });
  const report = JSON.parse(await readFile(outcome.reportFiles.json, 'utf8'));
  return { outcome, report, database, fixture };
}

beforeAll(async () => {
  const trivy = await which('trivy');
  if (!trivy) throw new Error('trivy is not on PATH: run `bash tools/scripts/setup.sh --test-tools` and put tools/.bin first on PATH (npm test does both)');
  trivyVersion = (JSON.parse((await exec(trivy, ['version', '--format', 'json'])).stdout) as { Version: string }).Version;
  work = await mkdtemp(join(tmpdir(), 'auren-trivy-'));
  // Trivy's cache (database and layer analysis) of this test only: nothing from the machine's.
  env = { ...process.env, TRIVY_CACHE_DIR: join(work, 'trivy-cache') };
  registry = await startTestRegistry();
  client = createRegistryClient({ registry: registry.host });
  const db = await buildFixtureDb({ workspaceRoot: WORKSPACE, advisoriesFile: ADVISORIES, env });
  await publishTrivyDb(client, 'auren/trivy-db', db);
}, 600_000);

afterAll(async () => {
  await registry?.stop();
  await Promise.all(fixtures.map((f) => rm(f.root, { recursive: true, force: true })));
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the real trivy with the fixture database from the registry', () => {
  it('blocks on the CRITICAL finding, naming CVE and package; the report names the real trivy and the database', async () => {
    const { outcome, report, database } = await scan([await debianImage(['python3-fastapi', 'python3-uvicorn', 'gzip'])], configWith());
    expect(database).toEqual(expect.objectContaining({ kind: 'registry', reference: `${registry.host}/auren/trivy-db` }));
    expect(outcome.verdict).toBe('blocked');
    const ids = outcome.findings.map((f) => `${f.severity} ${f.id} ${f.pkgName} ${f.fixedVersion ?? '-'}`).sort();
    expect(ids).toEqual([
      `CRITICAL ${CRITICAL} python3-fastapi 0.92.0-1+deb12u1`,
      `HIGH ${HIGH_UNFIXED} python3-uvicorn -`,
      `MEDIUM ${MEDIUM} gzip 1.12-1+deb12u1`,
    ]);
    expect(outcome.gate.blocking.map((f) => f.id).sort()).toEqual([CRITICAL, HIGH_UNFIXED]);
    expect(outcome.summaryLines.join('\n')).toMatch(new RegExp(`CRITICAL ${CRITICAL} python3-fastapi 0\\.92\\.0-1 → fixed in 0\\.92\\.0-1\\+deb12u1`));
    expect(report.vulnerabilityScan.scanner).toEqual(expect.objectContaining({
      name: 'trivy',
      version: trivyVersion,
      db: '2@2026-12-04T00:00:00Z',
      dbSource: `${registry.host}/auren/trivy-db@${(database as { digest: string }).digest}`,
    }));
  }, 300_000);

  it('an ignore rule with a future expiry lets the CRITICAL through; an expired one does not', async () => {
    const image = await debianImage(['python3-fastapi', 'gzip']);
    const future = await scan([image], configWith({ ignore: [{ id: CRITICAL, expires: '2027-06-30', reason: 'fixture: patched upstream, waiting for Debian' }] }));
    expect(future.outcome.verdict).not.toBe('blocked');
    expect(future.outcome.gate.ignored.map((i) => i.finding.id)).toEqual([CRITICAL]);
    const expired = await scan([image], configWith({ ignore: [{ id: CRITICAL, expires: '2026-11-01', reason: 'fixture' }] }));
    expect(expired.outcome.verdict).toBe('blocked');
    expect(expired.outcome.gate.blocking.map((f) => f.id)).toEqual([CRITICAL]);
  }, 300_000);

  it('ignoreUnfixed drops the HIGH finding that has no fix, and only that one', async () => {
    const image = await debianImage(['python3-uvicorn', 'gzip']);
    const strict = await scan([image], configWith());
    expect(strict.outcome.gate.blocking.map((f) => f.id)).toEqual([HIGH_UNFIXED]);
    const lenient = await scan([image], configWith({ ignoreUnfixed: true }));
    expect(lenient.outcome.gate.blocking).toEqual([]);
    expect(lenient.outcome.verdict).not.toBe('blocked');
    expect(lenient.outcome.findings.map((f) => f.id).sort()).toEqual([HIGH_UNFIXED, MEDIUM]);
  }, 300_000);

  it('scans every platform of a multi-platform image and names the platforms of each finding', async () => {
    const amd64 = await debianImage(['python3-fastapi', 'gzip'], 'amd64');
    // The arm64 variant lacks fastapi: its CRITICAL must be reported for amd64 only.
    const arm64 = await debianImage(['python3-uvicorn', 'gzip'], 'arm64');
    const { outcome, report, fixture } = await scan([amd64, arm64], configWith());
    const byId = Object.fromEntries(outcome.findings.map((f) => [f.id, f.platforms]));
    expect(byId).toEqual({ [CRITICAL]: ['linux/amd64'], [HIGH_UNFIXED]: ['linux/arm64'], [MEDIUM]: ['linux/amd64', 'linux/arm64'] });
    expect(report.vulnerabilityScan.rawReports).toEqual(['trivy-linux-amd64.json', 'trivy-linux-arm64.json']);
    const critical = outcome.findings.find((f) => f.id === CRITICAL);
    // Named after the built layout and the platform's manifest, not the temporary one-image layout.
    expect(critical?.target).toMatch(new RegExp(`^${fixture.layoutDir}@sha256:[a-f0-9]{64} \\(debian 12`));
    const table = await readFile(outcome.reportFiles.table, 'utf8');
    expect(table).toMatch(new RegExp(`${MEDIUM}.*linux/amd64,linux/arm64`));
  }, 300_000);

  it('a new database (new UpdatedAt) changes the scan cache key, and the next scan uses it', async () => {
    const config = configWith();
    const before = await scannerFingerprint(config.scan, env, await resolveScanDatabase(config, 'trivy', env));
    expect(before).toMatch(new RegExp(`^scanner=trivy version=${trivyVersion.replace(/\./g, '\\.')} db=${registry.host}/auren/trivy-db@sha256:[a-f0-9]{64}`));
    expect(await scannerFingerprint(config.scan, env, await resolveScanDatabase(config, 'trivy', env))).toBe(before);
    const newer = await buildFixtureDb({ workspaceRoot: WORKSPACE, advisoriesFile: ADVISORIES, updatedAt: '2026-12-01T06:00:00Z', env });
    expect((await publishTrivyDb(client, 'auren/trivy-db', newer)).status).toBe('published');
    const after = await scannerFingerprint(config.scan, env, await resolveScanDatabase(config, 'trivy', env));
    expect(after).not.toBe(before);
    const { report } = await scan([await debianImage(['gzip'])], config);
    expect(report.vulnerabilityScan.scanner.db).toBe('2@2026-12-01T06:00:00Z');
  }, 300_000);
});

describe('accepted findings as OpenVEX, with the real trivy', () => {
  it('a not_affected statement for the fixture CRITICAL lets auren-api through, and Trivy agrees', async () => {
    const image = await debianImage(['python3-fastapi', 'gzip']);
    const { outcome, report, fixture } = await scan([image], configWith(), { vex: [criticalNotAffected('2026-11-20T00:00:00Z')] });
    expect(outcome.verdict).not.toBe('blocked');
    expect(outcome.gate.ignored).toEqual([expect.objectContaining({ reason: 'vex', finding: expect.objectContaining({ id: CRITICAL }) })]);
    // Trivy read the same statement (--vex) and suppressed the same finding.
    const critical = outcome.findings.find((f) => f.id === CRITICAL);
    expect(critical?.suppressedByScanner).toEqual(expect.objectContaining({ status: 'not_affected' }));
    // The copy that was applied is what docker-push attests.
    expect(report.vex.documents).toEqual([expect.objectContaining({ file: 'vex/auren-api.openvex.json', statements: 1, copy: 'vex/01-vex_auren-api.openvex.json' })]);
    expect(JSON.parse(await readFile(join(fixture.root, 'scan', report.vex.documents[0].copy), 'utf8')).statements).toHaveLength(1);
    expect(await readFile(outcome.reportFiles.table, 'utf8')).toMatch(new RegExp(`${CRITICAL}.*accepted \\(VEX not_affected: vulnerable_code_not_in_execute_path, until 2027-05-19\\)`));
  }, 300_000);

  it('an expired statement (over 180 days old) does not: Trivy is not given it, and the gate blocks', async () => {
    const image = await debianImage(['python3-fastapi', 'gzip']);
    const { outcome, report, fixture } = await scan([image], configWith(), { vex: [criticalNotAffected('2026-01-15T00:00:00Z')] });
    expect(outcome.verdict).toBe('blocked');
    expect(outcome.gate.blocking.map((f) => f.id)).toEqual([CRITICAL]);
    expect(outcome.findings.find((f) => f.id === CRITICAL)?.suppressedByScanner).toBeUndefined();
    expect(outcome.gate.expiredStatements).toEqual([expect.objectContaining({ vulnerability: CRITICAL, expires: '2026-07-14', matched: 1 })]);
    expect(report.vex.documents).toEqual([]);
    await expect(readFile(join(fixture.root, 'scan', 'vex', '01-vex_auren-api.openvex.json'))).rejects.toThrow();
  }, 300_000);
});

describe('no vulnerability database anywhere', () => {
  let silent: Server;
  const sockets: Socket[] = [];
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => (silent ? silent.close(resolve) : resolve(undefined)));
  });

  it('says so and what to do, without waiting on a source that never answers (not a bare not-scanned)', async () => {
    // Trivy's own source accepts connections and never answers: a stalled network.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const offline = { ...env, TRIVY_CACHE_DIR: join(work, 'empty-trivy-cache'), TRIVY_DB_REPOSITORY: `127.0.0.1:${port}/aquasec/trivy-db:2` };
    // A namespace where the registry serves no database.
    const { outcome, report } = await scan([await debianImage(['gzip'])], configWith({}, 'nodb'), { env: offline });
    expect(outcome.verdict).toBe('not-scanned');
    const cause = 'no vulnerability database: serve one with `nx run registry:trivy-db --from=ghcr.io/aquasecurity/trivy-db:2`';
    expect(outcome.notScanned).toEqual({ cause: 'no-database', summary: cause });
    expect(report.vulnerabilityScan).toEqual(expect.objectContaining({ cause: 'no-database', summary: cause, reason: expect.stringContaining(`127.0.0.1:${port} did not answer within 5 s`) }));
    expect(await readFile(outcome.reportFiles.table, 'utf8')).toContain(`Vulnerabilities: NOT SCANNED (${cause})`);
  }, 60_000);
});
