// @auren-test-tools trivy cosign (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * The repository's workflows, run step by step by the GitHub Actions emulator
 * (tools/workflow-runner) with the commands they hold: release.yml builds, scans, pushes, signs
 * and attests with the real buildah, Trivy and cosign, then its deploy job verifies signature and
 * provenance with the real cosign before it pins a digest; pr.yml scans with the real Trivy and
 * hands the SARIF to the upload step. One real registry and one clone of this workspace, with
 * the history a team would have: the base image and the bridge released once from a workstation.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import execa from 'execa';
import { startTestRegistry, type TestRegistry } from '../testing/registry-server.testing';
import { EMULATED_REPOSITORY_URL, newestVersion, pullRequestWorkflowScenario, releaseWorkflowScenario } from './workflow-runner.testing';
import { cloneWorkspace, WORKSPACE_ROOT, type WorkspaceClone } from './workspace.testing';

const STEP = 40 * 60_000;

describe('newestVersion', () => {
  it('picks the highest semantic version of the project, not the last in text order', () => {
    expect(newestVersion(['app@0.9.0', 'app@0.10.0', 'app@0.2.1', 'other@9.0.0', 'app@bad'], 'app')).toBe('0.10.0');
    expect(newestVersion(['other@1.0.0'], 'app')).toBeUndefined();
  });
});

describe('the workflows, run by the emulator', () => {
  let registry: TestRegistry;
  let ws: WorkspaceClone;
  let released: { digest: string };
  const cosign = join(WORKSPACE_ROOT, 'tools', '.bin', 'cosign');

  function expectOk(result: { exitCode: number; all?: string }, what: string): void {
    if (result.exitCode !== 0) throw new Error(`${what} failed (${result.exitCode}):\n${(result.all ?? '').slice(-6000)}`);
  }

  beforeAll(async () => {
    registry = await startTestRegistry();
    ws = await cloneWorkspace({ AUREN_REGISTRY: `${registry.host}/auren` });
    // The vulnerability database the registry serves (the fixture one): every scan below uses it.
    expectOk(await ws.nx(['run', 'registry:trivy-db']), 'nx run registry:trivy-db');
    // The release before the runs, from a workstation: signed with its local key pair.
    expectOk(await ws.nx(['run', 'biometric-bridge:docker-push']), 'nx run biometric-bridge:docker-push');
    released = JSON.parse(await readFile(join(ws.dir, 'dist/images/biometric-bridge/push.json'), 'utf8'));
  }, STEP);

  afterAll(async () => {
    await ws?.remove();
    await registry?.stop();
  });

  it('release.yml signs and attests what it pushes with the key in its secrets, and its deploy job pins only digests that verify', async () => {
    const result = await releaseWorkflowScenario(ws, registry.host, { forgedDigest: released.digest });
    expect(result.jobs.map((job) => [job.job, job.result])).toEqual([
      ['plan', 'success'],
      ['base-image', 'skipped'],
      ['release', 'success'],
      ['release-fanout', 'skipped'],
      ['deploy', 'success'],
    ]);
    const version = result.expectedVersion;
    const bridge = result.registryTags['biometric-bridge'];
    const digest = bridge[`v${version}`];
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(bridge.latest).toBe(digest);
    // The referrers fallback tag of the new digest holds its SBOM, signature and provenance.
    expect(result.pushedTags['biometric-bridge']).toEqual(expect.arrayContaining([`v${version}`, 'latest', `sha256-${digest.slice(7)}`]));
    expect(result.newGitTagsOnOrigin).toEqual([`biometric-bridge@${version}`]);

    // The workflow's own steps ran: the product tools from the one list, the signer from secrets.
    const ran = (job: string) => result.runSteps.filter((step) => step.job === job).map((step) => step.script.trim());
    expect(ran('release')).toEqual(expect.arrayContaining([expect.stringContaining('bash tools/scripts/setup.sh --product-tools'), 'npx nx affected -t docker-push --outputStyle=static']));
    expect(ran('deploy')).toContain(
      `npx nx run registry:deploy-manifest --requireSignature --requireProvenance --sourceRepository="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY" --builderId="$GITHUB_SERVER_URL/$GITHUB_WORKFLOW_REF"`,
    );
    expect(result.summary).toContain('- signing (sign): the cosign key in secrets.AUREN_SIGNING_KEY');
    expect(result.summary).toContain('- signing (verify): the public key in vars.AUREN_SIGNING_PUBLIC_KEY (or the KMS key)');

    // Checked again here, by cosign itself, with the public half of the repository's key.
    const dir = await mkdtemp(join(tmpdir(), 'auren-release-verify-'));
    try {
      await writeFile(join(dir, 'cosign.pub'), result.publicKey);
      const ref = `${registry.host}/auren/biometric-bridge@${digest}`;
      const flags = ['--key', join(dir, 'cosign.pub'), '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry'];
      const verify = await execa(cosign, ['verify', ...flags, ref], { reject: false, all: true });
      expect({ exitCode: verify.exitCode, output: verify.all }).toEqual(expect.objectContaining({ exitCode: 0 }));
      const attestation = await execa(cosign, ['verify-attestation', '--type', 'slsaprovenance1', ...flags, ref], { reject: false, all: true });
      expect({ exitCode: attestation.exitCode, output: attestation.all }).toEqual(expect.objectContaining({ exitCode: 0 }));
      const statement = JSON.parse(Buffer.from(JSON.parse(attestation.stdout.trim().split('\n')[0]).payload, 'base64').toString('utf8'));
      expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1');
      expect(statement.predicate.runDetails.builder.id).toBe(`${EMULATED_REPOSITORY_URL}/.github/workflows/release.yml@refs/heads/main`);
      expect(statement.predicate.buildDefinition.resolvedDependencies).toEqual(
        expect.arrayContaining([expect.objectContaining({ uri: expect.stringContaining(`git+${EMULATED_REPOSITORY_URL}`), digest: { gitCommit: result.sha } })]),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    // The deploy job kept the pinned override: the digest this run pushed, and only what it pushed.
    expect(result.artifacts).toEqual(['deploy-manifest', 'push-records-release']);
    expect(result.deployManifest).toContain(`${registry.host}/auren/biometric-bridge@${digest}`);
    expect(result.deployManifest).not.toMatch(/auren-api@|auren-nginx@/);

    // The same deploy job handed a record naming another digest (signed by a workstation's key,
    // built by a workstation) refuses it and keeps no manifest.
    const forged = result.forgedDeploy!;
    expect(forged.result).toBe('failure');
    expect(forged.failure).toMatch(/Verify signatures and provenance, pin the digests/);
    expect(forged.log).toContain(released.digest);
    expect(forged.log).toMatch(/biometric-bridge/);
    expect(forged.log).toMatch(/cosign verify refused it|no valid provenance/);
    expect(forged.recorded).toEqual([]);
  }, STEP);

  it('pr.yml scans the changed image with the real Trivy and hands its SARIF to code scanning', async () => {
    const result = await pullRequestWorkflowScenario(ws, registry.host);
    // The base image is scanned too: the local registry step pushes it (through its scan) for the
    // Dockerfiles to build FROM.
    expect(result.jobs.map((job) => [job.job, job.result])).toEqual([
      ['affected', 'success'],
      ['code-scanning', 'success'],
      ['code-scanning', 'success'],
    ]);
    expect(result.runSteps.map((step) => step.script.trim())).toContain('npx nx affected -t typecheck test docker-build scan');
    expect(result.jobs[0].outputs).toEqual({ scanned: '["base-image","biometric-bridge"]' });
    expect(result.sarif.map(({ path, category }) => ({ path, category }))).toEqual([
      { path: 'dist/images/base-image/scan/report.sarif', category: 'image-base-image' },
      { path: 'dist/images/biometric-bridge/scan/report.sarif', category: 'image-biometric-bridge' },
    ]);
    const sarif = JSON.parse(result.sarif[1].text);
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs[0].tool.driver.name).toEqual(expect.any(String));
    // The report beside it says which scanner and database decided: the real Trivy, with the
    // database this registry serves.
    const report = JSON.parse(await readFile(join(ws.dir, 'dist/images/biometric-bridge/scan/report.json'), 'utf8'));
    expect(report.vulnerabilityScan.scanner).toEqual(expect.objectContaining({ name: 'trivy', dbSource: expect.stringContaining(`${registry.host}/auren/trivy-db@sha256:`) }));
  }, STEP);
});
