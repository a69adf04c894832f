// @auren-test-tools crane oras cosign (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestRegistry } from '../../testing/registry-server.testing';
import { normalizeOptions, type AurenConfig } from '../config/options';
import { exec, which } from '../exec/exec';
import { readOciLayout } from '../registry/layout';
import { OCI_INDEX, OCI_MANIFEST } from '../registry/media-types';
import { executePush, planPush } from '../registry/push';
import { writeTestLayout, type TestLayout } from '../registry/layout.testing';
import { runCleanup, type CleanupInput } from './cleanup';
import { formatPlan } from './format';
import { restoreJournal } from './restore';
import type { RetentionPolicy } from './policy';
import { registryStorage } from './storage';
import { publishSupplyChain } from '../supply-chain/publish';
import { fallbackTag } from '../registry/digest';
import { listReferrers } from '../supply-chain/referrers';
import { SBOM_FILE } from '../supply-chain/sbom';

/**
 * Retention treats provenance like the SBOM and the signature: cleanup --apply deleting an image removes its signature, provenance, SBOM and
 * fallback tag and keeps those of the kept image — two images sharing every layer — and an
 * artifact whose subject is gone is reported and removed. Real registry, real cosign.
 */

const PASSWORD = 'cleanup-attached';
const REPO = 'auren/shared';
const POLICY: RetentionPolicy = { keepReleases: 1, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: false };

/** A copy of `source` with a new config (so a new digest) and the very same layer blobs. */
async function sibling(source: TestLayout): Promise<{ dir: string; digest: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'auren-sibling-'));
  await cp(source.dir, dir, { recursive: true });
  const blob = (digest: string) => join(dir, 'blobs', 'sha256', digest.slice(7));
  const manifest = JSON.parse(await readFile(blob(source.digest), 'utf8'));
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8'));
  config.config.Labels.nonce = randomBytes(8).toString('hex');
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = `sha256:${createHash('sha256').update(configBytes).digest('hex')}`;
  await writeFile(blob(configDigest), configBytes);
  const next = Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, digest: configDigest, size: configBytes.length } }));
  const digest = `sha256:${createHash('sha256').update(next).digest('hex')}`;
  await writeFile(blob(digest), next);
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest, size: next.length }] }));
  return { dir, digest };
}

// Both ways cleanup deletes: DELETE requests, and links removed in the registry's storage folder
// (the embedded registry's default).
describe.each<'api' | 'storage'>(['api', 'storage'])('cleanup treats SBOMs, signatures and fallback indexes as part of their image (deleting via %s)', (via) => {
  const { registry, client } = useTestRegistry();
  let work: string;
  let config: AurenConfig;
  const env = { ...process.env, COSIGN_PASSWORD: PASSWORD };
  const dirs: string[] = [];
  const image: Record<'old' | 'kept' | 'gone', { digest: string; layers: string[] }> = {} as never;
  const attached: Record<string, string[]> = {};
  let journal: string | undefined;

  const verifyProvenance = (digest: string) =>
    exec('cosign', ['verify-attestation', '--type', 'slsaprovenance1', '--key', join(work, 'cosign.pub'), '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', `${registry.host}/${REPO}@${digest}`], {
      env,
      okExitCodes: [1, 10, 11, 12],
    });
  const verify = (digest: string) =>
    exec('cosign', ['verify', '--key', join(work, 'cosign.pub'), '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', `${registry.host}/${REPO}@${digest}`], {
      env,
      okExitCodes: [1, 10, 11, 12],
    });
  const input = (apply: boolean): CleanupInput => ({
    repositories: [REPO],
    policy: POLICY,
    protections: new Map(),
    apply,
    concurrency: 4,
    journalDir: join(work, 'journal'),
    now: new Date(),
    lister: registryStorage(registry.dataDir),
    storage: via === 'storage' ? registryStorage(registry.dataDir) : undefined,
  });

  async function pushAndPublish(dir: string, tag: string): Promise<string> {
    const layout = await readOciLayout(dir);
    await executePush(client, await planPush(client, layout, { repository: REPO, tags: [tag] }));
    const sbomFile = join(work, `${tag}-${SBOM_FILE}`);
    await writeFile(sbomFile, JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', metadata: { component: { name: tag } }, components: [] }));
    const outcome = await publishSupplyChain({
      client, config, workspaceRoot: work, repository: REPO, digest: layout.digest, sbomFile, credentials: undefined, env,
      provenance: {
        schemaVersion: 1, project: 'shared', digest: layout.digest,
        externalParameters: { dockerfile: 'apps/shared/Dockerfile', context: 'apps/shared', platforms: ['linux/amd64'], buildArgs: {} },
        packageLocks: [], builder: { name: 'buildah', version: '1.28.2' }, runner: { id: 'https://auren.dev/registry-plugin/builder/local' },
        startedOn: '2026-01-02T03:04:05.000Z', finishedOn: '2026-01-02T03:05:06.000Z',
      },
      log: () => undefined, warn: (line) => { throw new Error(line); },
    });
    expect(outcome).toMatchObject({ sbom: { status: 'attached' }, signature: { status: 'signed' }, provenance: { status: 'attested' } });
    attached[layout.digest] = (await listReferrers(client, REPO, layout.digest)).map((d) => d.digest);
    expect(attached[layout.digest]).toHaveLength(3);
    return layout.digest;
  }

  beforeAll(async () => {
    for (const tool of ['cosign', 'oras']) if (!(await which(tool))) throw new Error(`${tool} is not on PATH (tools/.bin)`);
    work = await mkdtemp(join(tmpdir(), 'auren-cleanup-attached-'));
    await exec('cosign', ['generate-key-pair'], { cwd: work, env });
    config = normalizeOptions({ registry: registry.host, signing: { key: join(work, 'cosign.key'), publicKey: join(work, 'cosign.pub') } }, {});

    const base = await writeTestLayout({ platforms: ['linux/amd64'], layers: 2 });
    const twin = await sibling(base);
    const other = await writeTestLayout({ platforms: ['linux/amd64'] });
    dirs.push(base.dir, twin.dir, other.dir);
    const layersOf = async (dir: string) => {
      const top = (await readOciLayout(dir)).manifests.at(-1)!;
      return (JSON.parse(top.body.toString()) as { layers: Array<{ digest: string }> }).layers.map((l) => l.digest);
    };
    image.old = { digest: await pushAndPublish(base.dir, 'v1.0.0'), layers: await layersOf(base.dir) };
    image.kept = { digest: await pushAndPublish(twin.dir, 'v2.0.0'), layers: await layersOf(twin.dir) };
    // A third image whose manifest is deleted behind retention's back: its artifacts are orphans.
    image.gone = { digest: await pushAndPublish(other.dir, 'latest'), layers: [] };
    expect(await client.manifestDelete(REPO, image.gone.digest)).toBe('deleted');
  }, 240_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('the two images share their layers', () => {
    expect(image.old.layers.length).toBeGreaterThan(0);
    expect(image.kept.layers).toEqual(image.old.layers);
    expect(image.kept.digest).not.toBe(image.old.digest);
  });

  it('plans the artifacts with their subject and reports the orphans, without --apply changing nothing', async () => {
    const before = (await client.tagList(REPO)).sort();
    const result = await runCleanup(client, input(false));
    const plan = result.plans[0];
    const byTag = Object.fromEntries(plan.tags.map((t) => [t.tag, `${t.action}:${t.rule}`]));
    expect(byTag).toEqual({
      'v1.0.0': 'delete:old-release',
      'v2.0.0': 'keep:newest-release',
      [fallbackTag(image.old.digest)]: 'delete:attached-to-deleted',
      [fallbackTag(image.kept.digest)]: 'keep:attached-to-kept',
      [fallbackTag(image.gone.digest)]: 'delete:orphaned-artifact',
      // cosign's legacy signature (signImage writes it for admission controllers) goes the same way.
      [`${fallbackTag(image.old.digest)}.sig`]: 'delete:attached-to-deleted',
      [`${fallbackTag(image.kept.digest)}.sig`]: 'keep:attached-to-kept',
      [`${fallbackTag(image.gone.digest)}.sig`]: 'delete:orphaned-artifact',
    });
    const deleted = plan.deletions.map((d) => d.digest).sort();
    expect(deleted).toEqual(expect.arrayContaining([image.old.digest, ...attached[image.old.digest], ...attached[image.gone.digest]]));
    expect(deleted).not.toEqual(expect.arrayContaining([attached[image.kept.digest][0]]));
    expect(formatPlan(result)).toContain('orphaned-artifact');
    expect((await client.tagList(REPO)).sort()).toEqual(before);
  });

  it('--apply removes the deleted image with its signature, SBOM and fallback tag, and the orphans; the kept image keeps all of its own', async () => {
    journal = (await runCleanup(client, input(true))).journal;
    const tags = (await client.tagList(REPO)).sort();
    expect(tags).toEqual(['v2.0.0', fallbackTag(image.kept.digest), `${fallbackTag(image.kept.digest)}.sig`].sort());
    for (const digest of [image.old.digest, ...attached[image.old.digest], ...attached[image.gone.digest]]) {
      expect(await client.manifestHead(REPO, digest)).toBe('not-found');
    }
    for (const digest of [image.kept.digest, ...attached[image.kept.digest]]) {
      expect(await client.manifestHead(REPO, digest)).not.toBe('not-found');
    }
    expect((await verify(image.kept.digest)).exitCode).toBe(0);
    expect((await verify(image.old.digest)).exitCode).not.toBe(0);
    expect((await verifyProvenance(image.kept.digest)).exitCode).toBe(0);
    expect((await verifyProvenance(image.old.digest)).exitCode).not.toBe(0);
    const discovered = JSON.parse((await exec('oras', ['discover', '--plain-http', '--format', 'json', `${registry.host}/${REPO}@${image.kept.digest}`])).stdout);
    expect((discovered.referrers ?? discovered.manifests).map((r: { digest: string }) => r.digest).sort()).toEqual([...attached[image.kept.digest]].sort());
  });

  it('the undo journal puts the deleted image back with its signature and SBOM (before GC); cleanup deletes them again', async () => {
    expect(journal).toBeDefined();
    await restoreJournal(client, journal!, { concurrency: 4 });
    expect((await verify(image.old.digest)).exitCode).toBe(0);
    expect((await verifyProvenance(image.old.digest)).exitCode).toBe(0);
    expect((await listReferrers(client, REPO, image.old.digest)).map((d) => d.digest).sort()).toEqual([...attached[image.old.digest]].sort());
    await runCleanup(client, input(true));
    expect(await client.manifestHead(REPO, image.old.digest)).toBe('not-found');
    expect((await client.tagList(REPO)).sort()).toEqual(['v2.0.0', fallbackTag(image.kept.digest), `${fallbackTag(image.kept.digest)}.sig`].sort());
  });

  it('after garbage collection the kept image is still whole: the shared layers stayed', async () => {
    await registry.stop({ keepData: true });
    await exec('docker-registry', ['garbage-collect', registry.configPath]);
    await registry.restart();
    for (const layer of image.kept.layers) expect(await client.blobHead(REPO, layer)).not.toBe('not-found');
    expect((await verify(image.kept.digest)).exitCode).toBe(0);
    expect((await verifyProvenance(image.kept.digest)).exitCode).toBe(0);
    const out = join(work, 'pulled');
    await exec('crane', ['pull', '--insecure', '--format', 'oci', `${registry.host}/${REPO}@${image.kept.digest}`, out]);
    expect((await readOciLayout(out)).digest).toBe(image.kept.digest);
  });
});
