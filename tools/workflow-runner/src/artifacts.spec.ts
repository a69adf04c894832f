import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { artifactStore, sarifProblems, uploadSarif } from './artifacts';
import { runWorkflowJob, type RunWorkflowJobOptions, type StandIn } from './runner';

describe('artifacts between jobs, and SARIF for code scanning', () => {
  let dir: string;
  let store: ReturnType<typeof artifactStore>;
  const event = { name: 'push', ref: 'refs/heads/main', sha: '1234567890abcdef1234567890abcdef12345678' };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wf-artifacts-'));
    store = artifactStore(join(dir, 'artifacts'));
    await mkdir(join(dir, 'ws', '.github', 'workflows'), { recursive: true });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const ws = (path = '') => join(dir, 'ws', path);
  async function files(map: Record<string, string>): Promise<void> {
    for (const [path, text] of Object.entries(map)) {
      await mkdir(dirname(ws(path)), { recursive: true });
      await writeFile(ws(path), text);
    }
  }
  // Each job starts from a clean checkout, as actions/checkout leaves it: nothing of an earlier job.
  const clean: StandIn = async () => {
    await rm(ws('dist'), { recursive: true, force: true });
  };
  async function job(name: string, steps: string, extra: Partial<RunWorkflowJobOptions> = {}) {
    await writeFile(ws('.github/workflows/w.yml'), `jobs:\n  ${name}:\n    steps:\n      - uses: actions/checkout@v4\n${steps}`);
    return runWorkflowJob({
      workflowFile: '.github/workflows/w.yml',
      job: name,
      cwd: ws(),
      env: { PATH: process.env.PATH, HOME: dir },
      event,
      standIns: {
        'actions/checkout': clean,
        'actions/upload-artifact': store.upload,
        'actions/download-artifact': store.download,
        'github/codeql-action/upload-sarif': uploadSarif,
      },
      ...extra,
    });
  }

  it('a later job downloads exactly what an earlier one uploaded, paths kept below the patterns\' common folder', async () => {
    // What the release job builds; its checkout removed whatever dist/ held before.
    const release = await job(
      'release',
      `      - run: |
          mkdir -p dist/images/api dist/images/bridge/scan dist/other
          echo '{"api":1}' > dist/images/api/push.json
          echo '{}' > dist/images/api/image.json
          echo '{"bridge":1}' > dist/images/bridge/push.json
          echo '{}' > dist/images/bridge/scan/report.sarif
          echo no > dist/other/x.json
      - uses: actions/upload-artifact@v4
        with:
          name: push-records-\${{ github.ref_name }}
          path: |
            dist/images/*/push.json
            dist/images/*/scan/
          if-no-files-found: error
`,
    );
    expect(release.failure).toBeUndefined();
    expect(release.recorded).toEqual([{ kind: 'artifact', path: 'push-records-main' }]);
    expect(await store.names()).toEqual(['push-records-main']);
    // The next job's checkout removes dist/ again; the download brings back only the artifact.
    const deploy = await job(
      'deploy',
      `      - uses: actions/download-artifact@v4
        with:
          pattern: push-records-*
          merge-multiple: true
          path: dist/images
      - run: |
          test "$(cat dist/images/api/push.json)" = '{"api":1}'
          test "$(cat dist/images/bridge/push.json)" = '{"bridge":1}'
          test -f dist/images/bridge/scan/report.sarif
          test ! -e dist/images/api/image.json
          test ! -e dist/other
`,
    );
    expect(deploy.failure).toBeUndefined();
  });

  it('refuses a second upload of one name, and with if-no-files-found: error an upload of nothing; a missing name fails the download', async () => {
    await files({ 'dist/a.json': 'a' });
    const twice = await job(
      'main',
      `      - uses: actions/upload-artifact@v4
        with: { name: records, path: dist/a.json }
      - uses: actions/upload-artifact@v4
        with: { name: records, path: dist/a.json }
`,
    );
    // The checkout cleaned dist/ first: the first upload found nothing and only warned.
    expect(twice.failure).toBeUndefined();
    expect(twice.log).toMatch(/::warning::No files were found with the provided path: dist\/a.json/);
    await files({ 'keep/a.json': 'a' });
    const again = await job(
      'main',
      `      - uses: actions/upload-artifact@v4
        with: { name: records, path: keep/a.json }
      - uses: actions/upload-artifact@v4
        with: { name: records, path: keep/a.json }
`,
    );
    expect(again.failure).toMatch(/an artifact named "records" was already uploaded in this run/);
    const nothing = await job('main', `      - uses: actions/upload-artifact@v4\n        with: { name: empty, path: none/*.json, if-no-files-found: error }\n`);
    expect(nothing.failure).toMatch(/No files were found with the provided path: none\/\*\.json/);
    const missing = await job('main', `      - uses: actions/download-artifact@v4\n        with: { name: nope }\n`);
    expect(missing.failure).toMatch(/no artifact named "nope" in this run \(uploaded: records\)/);
    expect(existsSync(join(store.dir, 'records', 'a.json'))).toBe(true);
    expect(await readFile(join(store.dir, 'records', 'a.json'), 'utf8')).toBe('a');
  });

  const sarif = {
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'auren-scan' } },
        results: [{ ruleId: 'CVE-1', message: { text: 'x' }, locations: [{ physicalLocation: { artifactLocation: { uri: 'apps/api/Dockerfile' } } }] }],
      },
    ],
  };

  it('upload-sarif records a file code scanning would take, with its category, and refuses one it would not', async () => {
    await files({ 'keep/ok.sarif': JSON.stringify(sarif), 'keep/bad.sarif': JSON.stringify({ version: '2.0.0', runs: [{ results: [{}] }] }) });
    const ok = await job('main', `      - uses: github/codeql-action/upload-sarif@v4\n        with: { sarif_file: keep/ok.sarif, category: image-api }\n`);
    expect(ok.failure).toBeUndefined();
    expect(ok.recorded).toEqual([{ kind: 'sarif', path: 'keep/ok.sarif', detail: { category: 'image-api' } }]);
    const bad = await job('main', `      - uses: github/codeql-action/upload-sarif@v4\n        with: { sarif_file: keep/bad.sarif }\n`);
    expect(bad.failure).toMatch(/keep\/bad.sarif would be refused: version is "2.0.0", not "2.1.0"; runs\[0\].tool.driver.name is missing/);
    const absent = await job('main', `      - uses: github/codeql-action/upload-sarif@v4\n        with: { sarif_file: dist/images/api/scan/report.sarif }\n`);
    expect(absent.failure).toMatch(/dist\/images\/api\/scan\/report.sarif does not exist/);
  });

  it.each([
    [{ version: '2.1.0', runs: [] }, ['no runs']],
    [{ version: '2.1.0', runs: [{ tool: { driver: { name: 't' } }, results: [{ ruleId: 'r', message: { text: 'm' }, locations: [] }] }] }, ['runs[0].results[0] has no location with an artifactLocation.uri']],
    [sarif, []],
  ])('sarifProblems(%j)', (document, problems) => {
    expect(sarifProblems(document)).toEqual(problems);
  });
});
