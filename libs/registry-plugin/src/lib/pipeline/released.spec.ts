// @auren-test-tools cosign (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useTestRegistry } from '../../testing/registry-server.testing';
import { normalizeOptions, type AurenConfig } from '../config/options';
import { readGitContext, releaseTagMessage } from '../git';
import { createTestRepo, type TestRepo } from '../git/repo.testing';
import { executePush, planPush } from '../registry/push';
import { writeTestLayout, type TestLayout } from '../registry/layout.testing';
import type { PushRecord } from '../reports/records';
import { publishSupplyChain } from '../supply-chain/publish';
import { attachArtifact } from '../supply-chain/referrers';
import { CYCLONEDX_MEDIA_TYPE, scanAnnotations, scanFromAnnotations } from '../supply-chain/sbom';
import { releaseState, type ReleaseProject } from './released';

/**
 * A release complete in a real registry, signed by the real cosign through the shipped publish
 * step, and every way it can fall short of complete: each of those leaves the decision to the
 * full pipeline ("pending") and says why.
 */

const SCAN: PushRecord['scan'] = { verdict: 'pass', scanner: 'trivy 0.69.3', critical: 0, high: 2 };
const SBOM = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', metadata: { tools: { components: [{ name: 'trivy', version: '0.69.3' }] } }, components: [] });

describe('releaseState: is this commit\'s release complete in the registry?', () => {
  const { registry, client } = useTestRegistry();
  let repo: TestRepo;
  let config: AurenConfig;
  let image: TestLayout;
  let other: TestLayout;
  const env = { ...process.env, COSIGN_PASSWORD: undefined };
  const project = (pushOptions?: ReleaseProject['pushOptions']): ReleaseProject => ({ name: 'auren-api', inputRoots: ['apps/auren-api'], pushOptions });
  const state = async (p = project(), c = config) => releaseState({ workspaceRoot: repo.dir, project: p, config: c, client, git: await readGitContext(repo.dir, env) });

  async function push(layout: TestLayout, repository: string): Promise<void> {
    await executePush(client, await planPush(client, layout.layout, { repository, tags: ['v0.1.0'] }));
  }

  async function attachSbom(repository: string, annotations: Record<string, string>): Promise<void> {
    const head = await client.manifestHead(repository, image.digest);
    if (head === 'not-found') throw new Error(`${repository}@${image.digest} is not there`);
    const subject = { mediaType: head.mediaType, digest: head.digest, size: head.size };
    await attachArtifact(client, { repository, subject, artifactType: CYCLONEDX_MEDIA_TYPE, files: [{ mediaType: CYCLONEDX_MEDIA_TYPE, data: Buffer.from(SBOM) }], annotations });
  }

  beforeAll(async () => {
    repo = await createTestRepo();
    await repo.commit('feat(api): first', ['auren-api']);
    config = normalizeOptions({ registry: registry.host, namespace: 'auren' }, env);
    image = await writeTestLayout({ platforms: ['linux/amd64'] });
    other = await writeTestLayout({ platforms: ['linux/amd64'] });
    // The release as docker-push leaves it: the image under v0.1.0, the git tag recording its
    // digest, the SBOM with its scan verdict, and the signature of the local key pair (real cosign).
    await push(image, 'auren/auren-api');
    await repo.git('tag', '--annotate', '--message', releaseTagMessage('auren-api', '0.1.0', `${registry.host}/auren/auren-api@${image.digest}`), 'auren-api@0.1.0');
    const sbomFile = join(repo.dir, 'dist', 'sbom.cdx.json');
    await mkdir(join(repo.dir, 'dist'), { recursive: true });
    await writeFile(sbomFile, SBOM);
    const lines: string[] = [];
    await publishSupplyChain({
      client, config, workspaceRoot: repo.dir, repository: 'auren/auren-api', digest: image.digest, sbomFile, scan: SCAN,
      credentials: undefined, env, log: (l) => lines.push(l), warn: (l) => lines.push(l),
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${lines.join('\n')}`);
    });
  }, 120_000);

  afterAll(async () => {
    await repo?.cleanup();
    for (const layout of [image, other]) if (layout) await rm(layout.dir, { recursive: true, force: true });
  });

  it('complete: the record names the digest git recorded, the released scan verdict, and what the digest carries', async () => {
    const result = await state();
    if (result.status !== 'complete') throw new Error(`pending: ${result.reason}`);
    expect(result.record).toMatchObject({
      project: 'auren-api',
      registry: registry.host,
      repository: 'auren/auren-api',
      digest: image.digest,
      tags: ['v0.1.0'],
      version: '0.1.0',
      scan: SCAN,
      blobs: { uploaded: 0, mounted: 0, bytesUploaded: 0 },
      platforms: ['linux/amd64'],
      // The workspace holds the key pair that signed it: the table says "signed (local key)".
      supplyChain: { sbom: { status: 'attached' }, signature: { status: 'signed', detail: expect.stringMatching(/^the local key pair \(\.auren\/signing\/cosign\.pub\) \(by its key hint\)/) } },
    });
    expect(result.record.size).toBeGreaterThan(0);
  });

  it('pending when a commit touched the project since its release (the version docker-push would give is new)', async () => {
    await repo.commit('fix(api): later', ['auren-api']);
    try {
      expect(await state()).toEqual({ status: 'pending', reason: expect.stringContaining('0.1.1') });
    } finally {
      await repo.git('reset', '-q', '--hard', 'HEAD~1');
    }
  });

  it('pending when the registry\'s version tag names another digest than the release tag recorded (a moved tag or a lying registry)', async () => {
    await push(other, 'auren/moved');
    expect(await state(project({ repository: 'moved' }))).toEqual({
      status: 'pending',
      reason: `${registry.host}/auren/moved:v0.1.0 names ${other.digest}, but auren-api@0.1.0 recorded ${image.digest}`,
    });
  });

  it('pending when the version is not in the registry, or its digest carries no SBOM, an SBOM without a verdict, or no signature', async () => {
    expect(await state(project({ repository: 'absent' }))).toEqual({ status: 'pending', reason: `${registry.host}/auren/absent:v0.1.0 is not in the registry` });
    await push(image, 'auren/bare');
    expect(await state(project({ repository: 'bare' }))).toEqual({ status: 'pending', reason: `${registry.host}/auren/bare:v0.1.0 has no SBOM attached` });
    await push(image, 'auren/no-verdict');
    await attachSbom('auren/no-verdict', { 'dev.auren.sbom.tool': 'trivy' });
    expect(await state(project({ repository: 'no-verdict' }))).toEqual({ status: 'pending', reason: expect.stringContaining(`the SBOM of ${registry.host}/auren/no-verdict:v0.1.0 carries no pass or warn scan verdict`) });
    await push(image, 'auren/unsigned');
    await attachSbom('auren/unsigned', scanAnnotations(SCAN));
    expect(await state(project({ repository: 'unsigned' }))).toEqual({ status: 'pending', reason: `${registry.host}/auren/unsigned:v0.1.0 is not signed` });
    // With signing off, a run would sign nothing either: the unsigned release is complete.
    const off = normalizeOptions({ registry: registry.host, namespace: 'auren', signing: false }, env);
    const result = await state(project({ repository: 'unsigned' }), off);
    expect(result).toMatchObject({ status: 'complete', record: { supplyChain: { signature: { status: 'off' }, provenance: { status: 'off' } } } });
  });

  it('extra tags (which may move) must name the release too', async () => {
    expect(await state(project({ extraTags: ['stable'] }))).toEqual({ status: 'pending', reason: `${registry.host}/auren/auren-api:stable does not name ${image.digest}` });
    await executePush(client, await planPush(client, image.layout, { repository: 'auren/auren-api', tags: ['stable'] }));
    expect(await state(project({ extraTags: ['stable'] }))).toMatchObject({ status: 'complete', record: { tags: ['v0.1.0', 'stable'] } });
  });

  it('pending when docker-push pushes tags of its own choosing, or no release tag records a digest', async () => {
    for (const options of [{ tags: ['x'] }, { versioned: false }]) {
      expect(await state(project(options))).toMatchObject({ status: 'pending', reason: expect.stringContaining('docker-push options') });
    }
    await repo.git('tag', '--annotate', '--message', 'no image here', 'auren-nginx@0.1.0');
    const nginx: ReleaseProject = { name: 'auren-nginx', inputRoots: ['apps/auren-nginx'], pushOptions: undefined };
    expect(await state(nginx)).toEqual({ status: 'pending', reason: 'the release tag auren-nginx@0.1.0 records no image digest' });
  });

  it('takes from the registry only a pass or warn verdict, bounded counts and a short printable scanner name', () => {
    const valid = scanAnnotations(SCAN);
    expect(scanFromAnnotations(valid)).toEqual(SCAN);
    expect(scanAnnotations({ verdict: 'not-scanned' })).toEqual({});
    for (const forged of [
      { ...valid, 'dev.auren.scan.verdict': 'blocked' },
      { ...valid, 'dev.auren.scan.critical': '1e9' },
      { ...valid, 'dev.auren.scan.high': '-1' },
      { ...valid, 'dev.auren.scan.critical': '1234567' },
      { ...valid, 'dev.auren.scan.scanner': 'trivy\u001b[2J' },
      { ...valid, 'dev.auren.scan.scanner': 'x'.repeat(101) },
      { ...valid, 'dev.auren.scan.high': 3 },
      undefined,
    ]) {
      expect(scanFromAnnotations(forged as Record<string, unknown> | undefined)).toBeUndefined();
    }
  });
});
