import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { normalizeOptions, type AurenConfig, type IgnoreRule } from '../config/options';
import { AurenError } from '../errors/errors';
import { exec } from '../exec/exec';
import type { ImageRecord } from '../reports/records';
import { runScanner, type RunScannerInput } from './scan-image';
import { FAKE_PEM, writeOciLayout, type Fixture, type FixtureImage } from './oci-fixture.testing';

const STANDINS = resolve(__dirname, '../../../../../tools/scanner-standins');
/** PATH with node but without any scanner: proves the "not installed" path even where one is. */
const NODE_ONLY_PATH = dirname(process.execPath);
const NOW = new Date('2025-06-15T12:00:00Z');
const CRITICAL = { id: 'CVE-2024-5535', severity: 'CRITICAL', pkg: 'libssl3', installed: '3.0.11-1~deb12u2', fixed: '3.0.14-1~deb12u1' };
const LOW = { id: 'CVE-2011-3374', severity: 'LOW', pkg: 'apt', installed: '2.6.1' };
const CLEAN_IMAGE: FixtureImage = { layers: [[{ name: 'app/main.py', content: 'print("ok")\n' }]], user: '10001' };

const fixtures: Fixture[] = [];
afterAll(async () => {
  await Promise.all(fixtures.map((f) => rm(f.root, { recursive: true, force: true })));
});

async function setup(options: {
  image?: FixtureImage;
  findings?: object[];
  scanner?: 'trivy' | 'grype';
  ignore?: IgnoreRule[];
  allowUnscanned?: AurenConfig['scan']['allowUnscanned'];
  registry?: string;
  withScanners?: boolean;
  env?: Record<string, string>;
}): Promise<RunScannerInput & { fixture: Fixture }> {
  const fixture = await writeOciLayout([options.image ?? CLEAN_IMAGE]);
  fixtures.push(fixture);
  const config = normalizeOptions(
    { scan: { scanner: options.scanner ?? 'trivy', ignore: options.ignore, allowUnscanned: options.allowUnscanned } },
    {},
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: options.withScanners === false ? NODE_ONLY_PATH : `${STANDINS}${delimiter}${NODE_ONLY_PATH}`,
    ...options.env,
  };
  delete env.AUREN_STANDIN_FAIL;
  delete env.AUREN_STANDIN_FINDINGS;
  if (options.findings) {
    env.AUREN_STANDIN_FINDINGS = join(fixture.root, 'findings.json');
    await writeFile(env.AUREN_STANDIN_FINDINGS, JSON.stringify(options.findings));
  }
  Object.assign(env, options.env);
  const imageRecord: ImageRecord = {
    schemaVersion: 1,
    project: 'auren-api',
    digest: fixture.digest,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    platforms: ['linux/amd64'],
    size: fixture.size,
    labels: {},
    builder: { name: 'buildah', version: '1.28.2' },
    createdAt: NOW.toISOString(),
  };
  return {
    fixture,
    layoutDir: fixture.layoutDir,
    imageRecord,
    imageName: '127.0.0.1:5000/auren/auren-api',
    policy: config.scan,
    budgets: config.budgets,
    registry: options.registry ?? '127.0.0.1:5000',
    reportDir: join(fixture.root, 'scan'),
    sourceUri: 'apps/auren-api/Dockerfile',
    now: NOW,
    env,
  };
}

async function scanError(input: RunScannerInput): Promise<AurenError> {
  const error = await runScanner(input).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AurenError);
  return error as AurenError;
}

describe.each(['trivy', 'grype'] as const)('runScanner with the %s stand-in', (scanner) => {
  it('passes a clean image and writes every report', async () => {
    const input = await setup({ scanner });
    const outcome = await runScanner(input);
    expect(outcome.verdict).toBe('pass');
    expect(outcome.scanner).toEqual({
      name: scanner,
      version: scanner === 'trivy' ? '0.56.2' : '0.86.1',
      db: scanner === 'trivy' ? '2@2024-11-27T06:11:44.446960377Z' : 'v6.0.2@2024-11-27T01:31:35Z',
    });
    expect(outcome.checks.map((c) => [c.id, c.status])).toEqual([
      ['secrets', 'pass'],
      ['root-user', 'pass'],
      ['size-budget', 'pass'],
    ]);
    for (const file of Object.values(outcome.reportFiles)) expect(existsSync(file)).toBe(true);
    expect(outcome.reportFiles.raw).toBe(join(input.reportDir, `${scanner}.json`));
    const report = JSON.parse(await readFile(outcome.reportFiles.json, 'utf8'));
    expect(report).toMatchObject({
      schemaVersion: 1,
      image: { name: input.imageName, digest: input.imageRecord.digest, project: 'auren-api' },
      verdict: 'pass',
      vulnerabilityScan: { status: 'scanned', scanner: outcome.scanner, rawReport: `${scanner}.json` },
    });
  });

  it('blocks on a CRITICAL finding and says which', async () => {
    const input = await setup({ scanner, findings: [CRITICAL, LOW] });
    const outcome = await runScanner(input);
    expect(outcome.verdict).toBe('blocked');
    expect(outcome.findings.map((f) => f.id)).toEqual([CRITICAL.id, LOW.id]);
    expect(outcome.gate.blocking.map((f) => f.id)).toEqual([CRITICAL.id]);
    expect(outcome.gate.counts).toMatchObject({ CRITICAL: 1, LOW: 1 });
    expect(outcome.summaryLines.join('\n')).toContain(`✖ CRITICAL ${CRITICAL.id} libssl3 3.0.11-1~deb12u2 → fixed in 3.0.14-1~deb12u1`);
    const table = await readFile(outcome.reportFiles.table, 'utf8');
    expect(table).toMatch(/CRITICAL\s+CVE-2024-5535\s+libssl3\s+3\.0\.11-1~deb12u2\s+3\.0\.14-1~deb12u1\s+BLOCKING/);
  });

  it('fails clearly when the scanner crashes without a report, whatever its exit code', async () => {
    const input = await setup({ scanner, env: { AUREN_STANDIN_FAIL: 'crash' } });
    const error = await scanError(input);
    expect(error.kind).toBe('scan');
    expect(error.message).toContain(`${scanner} failed to scan ${input.imageName}: it wrote no report`);
    expect(error.message).toContain('exit code 2');
    expect(error.message).toContain('panic: runtime error');
    expect(error.hint).toContain('Run it by hand');
  });

  it('fails clearly when the report is not valid JSON, although the exit code is 0', async () => {
    const input = await setup({ scanner, env: { AUREN_STANDIN_FAIL: 'garbage' } });
    const error = await scanError(input);
    expect(error.kind).toBe('scan');
    expect(error.message).toMatch(new RegExp(`${scanner} failed to scan .*: ${scanner} output is not JSON .*\\(exit code 0\\)`));
  });
});

describe('runScanner', () => {
  it('never mistakes a report left by an earlier run for this run', async () => {
    const input = await setup({ env: { AUREN_STANDIN_FAIL: 'crash' } });
    await mkdir(input.reportDir, { recursive: true });
    await writeFile(join(input.reportDir, 'trivy.json'), JSON.stringify({ SchemaVersion: 2, ArtifactName: 'old' }));
    await expect(runScanner(input)).rejects.toMatchObject({ kind: 'scan' });
  });

  it('applies an ignore rule until it expires', async () => {
    const active = await runScanner(await setup({ findings: [CRITICAL], ignore: [{ id: CRITICAL.id, expires: '2025-06-15', reason: 'not reachable' }] }));
    expect(active.verdict).toBe('pass');
    expect(active.gate.ignored.map((i) => [i.finding.id, i.reason])).toEqual([[CRITICAL.id, 'ignore-rule']]);
    const sarif = JSON.parse(await readFile(active.reportFiles.sarif, 'utf8'));
    expect(sarif.runs[0].results[0].suppressions[0].justification).toBe(`scan.ignore ${CRITICAL.id} until 2025-06-15: not reachable`);
  });

  it('blocks again once the ignore rule has expired, and the reports say it expired', async () => {
    const outcome = await runScanner(await setup({ findings: [CRITICAL], ignore: [{ id: CRITICAL.id, expires: '2025-06-14' }] }));
    expect(outcome.verdict).toBe('blocked');
    expect(outcome.gate.expiredRules).toEqual([{ id: CRITICAL.id, expires: '2025-06-14', matched: 1 }]);
    expect(outcome.summaryLines.join('\n')).toContain(`ignore rule ${CRITICAL.id} expired on 2025-06-14; it no longer applies`);
    expect(await readFile(outcome.reportFiles.table, 'utf8')).toContain(`Ignore rule ${CRITICAL.id} expired on 2025-06-14 and no longer applies`);
  });

  it('writes SARIF 2.1.0 that GitHub code scanning accepts', async () => {
    const outcome = await runScanner(await setup({ findings: [CRITICAL, LOW], image: { ...CLEAN_IMAGE, user: 'root' } }));
    const sarif = JSON.parse(await readFile(outcome.reportFiles.sarif, 'utf8'));
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.$schema).toMatch(/sarif-2\.1\.0/);
    const run = sarif.runs[0];
    expect(run.tool.driver.name).toBe('auren-image-scan');
    const ruleIds = run.tool.driver.rules.map((r: { id: string }) => r.id);
    expect(ruleIds).toEqual([CRITICAL.id, LOW.id, 'auren/root-user']);
    expect(run.tool.driver.rules[0].properties['security-severity']).toBe('9.5');
    expect(run.tool.driver.rules[0].helpUri).toBe(`https://nvd.nist.gov/vuln/detail/${CRITICAL.id}`);
    for (const result of run.results) {
      expect(ruleIds[result.ruleIndex]).toBe(result.ruleId);
      expect(['error', 'warning', 'note', 'none']).toContain(result.level);
      expect(result.message.text).toEqual(expect.any(String));
      expect(result.locations[0].physicalLocation.artifactLocation.uri).toBe('apps/auren-api/Dockerfile');
      expect(result.locations[0].physicalLocation.region.startLine).toBeGreaterThanOrEqual(1);
      expect(result.partialFingerprints.primaryLocationLineHash).toMatch(/^[a-f0-9]{32}$/);
    }
    expect(run.results.map((r: { level: string }) => r.level)).toEqual(['error', 'note', 'error']);
  });

  it('blocks an image with a secret even when the vulnerability scan is clean', async () => {
    const outcome = await runScanner(
      await setup({
        image: {
          user: '10001',
          layers: [[{ name: 'root/.ssh/id_rsa', content: FAKE_PEM }], [{ name: 'root/.ssh/.wh.id_rsa', content: '' }]],
        },
      }),
    );
    expect(outcome.verdict).toBe('blocked');
    expect(outcome.gate.verdict).toBe('pass');
    const secrets = outcome.checks.find((c) => c.id === 'secrets');
    expect(secrets?.status).toBe('fail');
    expect(outcome.summaryLines.join('\n')).toContain('private-key /root/.ssh/id_rsa:1 in layer sha256:');
    expect(await readFile(outcome.reportFiles.table, 'utf8')).toContain('whiteout in sha256:');
  });

  it('skips the vulnerability scan for a loopback registry when no scanner is installed, and still runs the checks', async () => {
    const input = await setup({ withScanners: false });
    const outcome = await runScanner(input);
    expect(outcome.verdict).toBe('not-scanned');
    expect(outcome.scanner).toBeUndefined();
    expect(outcome.checks).toHaveLength(3);
    expect(outcome.reportFiles.raw).toBeUndefined();
    // Never a bare "not-scanned": the cause and how to get the scanner, everywhere it shows.
    const cause = 'no trivy on PATH: install it with `bash tools/scripts/setup.sh --product-tools`';
    expect(outcome.notScanned).toEqual({ cause: 'no-scanner', summary: cause });
    expect(outcome.summaryLines.join('\n')).toContain(`vulnerabilities: NOT SCANNED — ${cause}`);
    expect(outcome.summaryLines.join('\n')).toContain('trivy is not installed; allowed by scan.allowUnscanned="loopback"');
    const report = JSON.parse(await readFile(outcome.reportFiles.json, 'utf8'));
    expect(report.vulnerabilityScan).toEqual(expect.objectContaining({ status: 'not-scanned', cause: 'no-scanner', summary: cause }));
    expect(await readFile(outcome.reportFiles.table, 'utf8')).toContain(`Vulnerabilities: NOT SCANNED (${cause})`);
  });

  it('still blocks an unscanned image on the built-in checks', async () => {
    const outcome = await runScanner(await setup({ withScanners: false, image: { ...CLEAN_IMAGE, user: '' } }));
    expect(outcome.verdict).toBe('blocked');
    expect(outcome.checks.find((c) => c.id === 'root-user')?.hint).toContain('USER 10001');
  });

  it('refuses a remote registry when no scanner is installed, saying how to install one', async () => {
    const error = await scanError(await setup({ withScanners: false, registry: 'registry.digitalocean.com' }));
    expect(error.kind).toBe('scan');
    expect(error.message).toBe(
      'cannot scan 127.0.0.1:5000/auren/auren-api: `trivy` is not installed (not on PATH), and scan.allowUnscanned is "loopback" while registry registry.digitalocean.com is not on loopback',
    );
    expect(error.hint).toContain('install Trivy');
    expect(error.hint).toContain('setup.sh --product-tools');
    expect(error.hint).toContain('Grype');
    expect(error.hint).toContain('scan.allowUnscanned');
  });

  it.each([
    ['never', '127.0.0.1:5000', false],
    ['always', 'ghcr.io', true],
  ] as const)('allowUnscanned=%s with registry %s → allowed: %p', async (allowUnscanned, registry, allowed) => {
    const input = await setup({ withScanners: false, allowUnscanned, registry });
    if (allowed) expect((await runScanner(input)).verdict).toBe('not-scanned');
    else await expect(runScanner(input)).rejects.toMatchObject({ kind: 'scan' });
  });

  it('refuses a layout whose index.json does not hold the digest image.json names', async () => {
    const input = await setup({});
    input.imageRecord = { ...input.imageRecord, digest: `sha256:${'0'.repeat(64)}` };
    await expect(runScanner(input)).rejects.toMatchObject({ kind: 'input', message: expect.stringContaining('not in') });
  });
});

describe('stand-ins', () => {
  it.each([
    ['trivy', ['image', '--input', '/nonexistent/oci', '--format', 'json', '--output', '/tmp/x.json'], /FATAL.*unable to open \/nonexistent\/oci/],
    ['grype', ['oci-dir:/nonexistent/oci', '-o', 'json'], /1 error occurred:[\s\S]*\/nonexistent\/oci\/index\.json/],
  ])('%s exits non-zero like the real tool when the layout does not exist', async (tool, args, stderr) => {
    const result = await exec(join(STANDINS, tool), args as string[], { okExitCodes: [1] });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(stderr);
  });

  it('honour the severity filter, ignore-unfixed and exit-code like Trivy', async () => {
    const input = await setup({ findings: [CRITICAL, LOW, { ...CRITICAL, id: 'CVE-2', fixed: undefined }] });
    const out = join(input.fixture.root, 'filtered.json');
    const result = await exec(
      join(STANDINS, 'trivy'),
      ['image', '--input', input.layoutDir, '--severity', 'HIGH,CRITICAL', '--ignore-unfixed', '--exit-code', '5', '-f', 'json', '-o', out, '-q'],
      { env: input.env, okExitCodes: [5] },
    );
    expect(result.exitCode).toBe(5);
    const report = JSON.parse(await readFile(out, 'utf8'));
    expect(report.Results[0].Vulnerabilities.map((v: { VulnerabilityID: string }) => v.VulnerabilityID)).toEqual([CRITICAL.id]);
  });
});
