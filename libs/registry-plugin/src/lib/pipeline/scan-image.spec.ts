// @auren-test-tools trivy (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * The scan target's use case with the real Trivy, the fixture database served by a real
 * registry, and OCI layouts holding this machine's Debian package records: how many times Trivy
 * runs per image, and that the SBOM converted from the scan's own report is the SBOM a Trivy run
 * of its own makes from the layout.
 */
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { normalizeOptions, type AurenConfig } from '../config/options';
import { which } from '../exec/exec';
import { createRegistryClient } from '../registry/client';
import { buildFixtureDb, publishTrivyDb } from '../scanners/trivy-db';
import { generateSbom } from '../supply-chain/sbom';
import { writeDebianLayout, type DebianLayout } from '../supply-chain/debian-layout.testing';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { normalizeScanImageOptions, scanImage } from './scan-image';

const WORKSPACE = resolve(__dirname, '../../../../..');
const STANDINS = join(WORKSPACE, 'tools/scanner-standins');
const CRITICAL = 'CVE-2026-90001'; // the fixture database: python3-fastapi, fixed in 0.92.0-1+deb12u1
const NOW = new Date('2026-12-01T12:00:00Z');

let registry: TestRegistry;
let work: string;
let calls: string;
let bin: string;
const layouts: DebianLayout[] = [];

interface CycloneDx {
  specVersion: string;
  metadata: { component: Record<string, unknown>; tools: unknown };
  components: Array<Record<string, unknown>>;
  dependencies?: Array<{ ref: string; dependsOn?: string[] }>;
  vulnerabilities?: unknown[];
}

/**
 * What two SBOMs of one image share: everything but what Trivy makes anew on every run (serial
 * number, timestamp, and the random `bom-ref`s, which the dependency graph is read through).
 */
function comparable(doc: CycloneDx) {
  const names = new Map<string, unknown>();
  for (const c of [doc.metadata.component, ...doc.components]) names.set(String(c['bom-ref']), c['purl'] ?? `${String(c['type'])}:${String(c['name'])}`);
  const strip = ({ 'bom-ref': _ref, ...rest }: Record<string, unknown>) => rest;
  return {
    specVersion: doc.specVersion,
    tools: doc.metadata.tools,
    component: strip(doc.metadata.component),
    components: doc.components.map(strip),
    dependencies: (doc.dependencies ?? []).map((d) => ({ ref: names.get(d.ref), dependsOn: (d.dependsOn ?? []).map((r) => names.get(r)).sort() })).sort((a, b) => String(a.ref).localeCompare(String(b.ref))),
    vulnerabilities: doc.vulnerabilities ?? [],
  };
}

/** The Trivy commands run so far (`image`, `version`, `convert`…), each with its arguments. */
async function trivyCalls(): Promise<string[][]> {
  const text = await readFile(calls, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => line.split(' '));
}
const imageReads = (list: string[][]) => list.filter((c) => c[0] === 'image' && !c.includes('--download-db-only'));

/** What docker-build leaves in dist/images/<project>: the layout and image.json. */
async function builtProject(root: string, name: string, packages: string[]) {
  const layout = await writeDebianLayout(packages);
  layouts.push(layout);
  const artifactDir = join(root, 'dist/images', name);
  await mkdir(artifactDir, { recursive: true });
  await cp(layout.dir, join(artifactDir, 'oci'), { recursive: true });
  await writeFile(
    join(artifactDir, 'image.json'),
    JSON.stringify({ schemaVersion: 1, project: name, digest: layout.digest, mediaType: layout.layout.mediaType, platforms: ['linux/amd64'], size: layout.layout.size, labels: {}, builder: { name: 'test', version: '0' }, createdAt: NOW.toISOString() }),
  );
  return { layout, project: { name, root: `apps/${name}`, artifactDir, repository: name } };
}

async function scan(root: string, project: Awaited<ReturnType<typeof builtProject>>['project'], config: AurenConfig, env: NodeJS.ProcessEnv) {
  const options = normalizeScanImageOptions({ allowRootUser: true }, { workspaceRoot: root, project, config }, env);
  return scanImage(options, { env, now: NOW });
}

/** A machine of its own: its Trivy cache and its tool-identity cache; the counting trivy first on PATH. */
async function machine(extra: NodeJS.ProcessEnv = {}): Promise<{ root: string; env: NodeJS.ProcessEnv }> {
  const root = await mkdtemp(join(work, 'machine-'));
  await rm(calls, { force: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [bin, STANDINS, dirname(process.execPath), process.env.PATH ?? ''].join(delimiter),
    TRIVY_CACHE_DIR: join(root, 'trivy-cache'),
    NX_CACHE_DIRECTORY: join(root, 'nx-cache'),
    AUREN_SCANNER: '',
    AUREN_REGISTRY: '',
    ...extra,
  };
  return { root, env };
}

const configFor = (scan: Partial<AurenConfig['scan']> = {}, namespace = 'auren') =>
  normalizeOptions({ registry: registry.host, namespace, scan: { scanner: 'trivy', severity: ['HIGH', 'CRITICAL'], ...scan } }, {});

beforeAll(async () => {
  const trivy = await which('trivy');
  if (!trivy) throw new Error('trivy is not on PATH: run `bash tools/scripts/setup.sh --test-tools` and put tools/.bin first on PATH (npm test does both)');
  work = await mkdtemp(join(tmpdir(), 'auren-scan-image-'));
  // A trivy that records what it is asked, then runs the real one.
  bin = join(work, 'bin');
  calls = join(work, 'trivy-calls');
  await mkdir(bin);
  await writeFile(join(bin, 'trivy'), `#!/bin/sh\necho "$*" >> ${JSON.stringify(calls)}\nexec ${JSON.stringify(trivy)} "$@"\n`);
  await chmod(join(bin, 'trivy'), 0o755);
  registry = await startTestRegistry();
  const db = await buildFixtureDb({ workspaceRoot: WORKSPACE, advisoriesFile: join(WORKSPACE, 'tools/trivy-db/advisories.json') });
  await publishTrivyDb(createRegistryClient({ registry: registry.host }), 'auren/trivy-db', db);
}, 600_000);

afterAll(async () => {
  await registry?.stop();
  await Promise.all(layouts.map((l) => rm(l.dir, { recursive: true, force: true })));
  if (work) await rm(work, { recursive: true, force: true });
});

describe('scanImage with the real trivy', () => {
  it('reads a one-platform image once; its SBOM, converted from that report, is the one a Trivy run of its own makes, even when the gate blocks', async () => {
    const { root, env } = await machine();
    const { layout, project } = await builtProject(root, 'auren-api', ['base-files', 'bash', 'gzip', 'python3-fastapi']);
    const result = await scan(root, project, configFor(), env);

    expect(result.outcome.verdict).toBe('blocked');
    expect(result.outcome.gate.blocking.map((f) => f.id)).toContain(CRITICAL);
    expect(result.sbom).toEqual({ status: 'generated', file: join(project.artifactDir, 'scan', 'sbom.cdx.json'), summary: expect.objectContaining({ debianPackages: 4 }) });
    const made = await trivyCalls();
    expect(imageReads(made)).toHaveLength(1);
    expect(made.filter((c) => c[0] === 'convert')).toHaveLength(1);
    // Asked once, after the database was downloaded; the next scan on this machine asks no more.
    expect(made.filter((c) => c[0] === 'version')).toHaveLength(1);

    const converted = JSON.parse(await readFile(join(project.artifactDir, 'scan', 'sbom.cdx.json'), 'utf8')) as CycloneDx;
    const ownRunFile = join(root, 'own-run.cdx.json');
    expect((await generateSbom({ layoutDir: join(project.artifactDir, 'oci'), digest: layout.digest, outputFile: ownRunFile, env })).status).toBe('generated');
    const ownRun = JSON.parse(await readFile(ownRunFile, 'utf8')) as CycloneDx;
    expect(comparable(converted)).toEqual(comparable(ownRun));
    // An inventory: the findings are the scan's report, not the SBOM's.
    expect(converted.vulnerabilities ?? []).toEqual([]);
    expect(converted.components.map((c) => c['name']).sort()).toEqual(expect.arrayContaining(['base-files', 'bash', 'gzip', 'python3-fastapi']));
    expect(converted.metadata.component['name']).toBe(`${join(project.artifactDir, 'oci')}@${layout.digest}`);
    // Nothing but the SBOM is left beside the reports.
    await expect(readFile(`${join(project.artifactDir, 'scan', 'sbom.cdx.json')}.inventory.json`)).rejects.toThrow();

    await rm(calls, { force: true });
    const second = await builtProject(root, 'auren-nginx', ['base-files', 'gzip']);
    expect((await scan(root, second.project, configFor(), env)).sbom.status).toBe('generated');
    const again = await trivyCalls();
    expect(again.map((c) => c[0]).sort()).toEqual(['convert', 'image']);
  }, 300_000);

  it('with --scanner grype, Trivy reads the layout for the SBOM alone', async () => {
    const { root, env } = await machine();
    const { project } = await builtProject(root, 'auren-api', ['base-files', 'gzip']);
    const result = await scan(root, project, configFor({ scanner: 'grype' }), env);
    expect(result.outcome.scanner?.name).toBe('grype');
    expect(result.sbom).toEqual(expect.objectContaining({ status: 'generated', summary: expect.objectContaining({ debianPackages: 2 }) }));
    const made = await trivyCalls();
    expect(imageReads(made).map((c) => c[c.indexOf('--format') + 1])).toEqual(['cyclonedx']);
    expect(made.filter((c) => c[0] === 'convert')).toEqual([]);
  }, 300_000);

  describe('with no database anywhere', () => {
    let closed: Server;
    afterAll(async () => {
      await new Promise((done) => (closed ? closed.close(done) : done(undefined)));
    });

    it('the image is not scanned, and its SBOM still comes from the layout', async () => {
      // Trivy's own source refuses: nothing is cached, and a namespace where nothing is served.
      closed = createServer((socket) => socket.destroy());
      await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
      const { port } = closed.address() as { port: number };
      const { root, env } = await machine({ TRIVY_DB_REPOSITORY: `127.0.0.1:${port}/aquasec/trivy-db:2` });
      const { project } = await builtProject(root, 'auren-api', ['base-files', 'gzip']);
      const result = await scan(root, project, configFor({ allowUnscanned: 'loopback' }, 'nodb'), env);
      expect(result.outcome.notScanned).toEqual(expect.objectContaining({ cause: 'no-database' }));
      expect(result.sbom).toEqual(expect.objectContaining({ status: 'generated', summary: expect.objectContaining({ debianPackages: 2 }) }));
      expect(imageReads(await trivyCalls()).map((c) => c[c.indexOf('--format') + 1])).toEqual(['cyclonedx']);
    }, 300_000);
  });
});
