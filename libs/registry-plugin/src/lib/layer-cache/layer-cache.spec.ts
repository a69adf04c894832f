import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { normalizeOptions } from '../config/options';
import type { ImageRecord } from '../reports/records';
import { layerFactsVersion, LAYER_FACTS_KIND, type LayerFacts, type LayerFactsStats } from '../scanners/checks/layer-facts';
import { checkSecrets } from '../scanners/checks/secrets';
import { readLayoutImages } from '../registry/layout';
import { runScanner } from '../scanners/scan-image';
import { gzipSync } from 'node:zlib';
import { FAKE_PEM, tarOf, writeOciLayout, type Fixture, type FixtureEntry } from '../scanners/oci-fixture.testing';
import { createLayerCache, layerCacheDir, noLayerCache, openLayerCache, type LayerCache } from './layer-cache';

const STANDINS = resolve(__dirname, '../../../../../tools/scanner-standins');
const GHP = ['ghp', '_', 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2'].join('');
const NOW = new Date('2026-01-15T12:00:00Z');

/** A base with many files (one of them an old secret), an app layer on top: the shape of our images. */
const baseLayers = (): FixtureEntry[][] => [
  [
    { name: 'etc/', type: 'directory' },
    ...Array.from({ length: 40 }, (_, i) => ({ name: `usr/share/base/file-${i}.txt`, content: `line ${i}\n` })),
    { name: 'var/lib/dpkg/status', content: 'Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n' },
    { name: 'etc/ssl/private/old.key', content: FAKE_PEM },
  ],
  [{ name: 'opt/deps/lib.py', content: 'x = 1\n' }, { name: 'opt/deps/.env', content: `TOKEN=${GHP}\n` }],
];

describe('per-layer results, cached by layer digest', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'auren-layer-cache-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
    if (base) await rm(base.root, { recursive: true, force: true });
  });
  let base: Fixture;
  /** The base image's layout, copied, with app layers on top: base layer digests stay the same. */
  const image = async (appLayers: FixtureEntry[][]) => {
    base ??= await writeOciLayout([{ layers: baseLayers(), user: '10001' }]);
    const root = await mkdtemp(join(work, 'image-'));
    const layoutDir = join(root, 'oci');
    await cp(base.layoutDir, layoutDir, { recursive: true });
    const blob = (d: string) => join(layoutDir, 'blobs', 'sha256', d.replace('sha256:', ''));
    const put = async (data: Buffer) => {
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      await writeFile(blob(digest), data);
      return { digest, size: data.length };
    };
    const manifest = JSON.parse(await readFile(blob(base.digest), 'utf8'));
    const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8'));
    for (const entries of appLayers) {
      const plain = await tarOf(entries);
      manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(gzipSync(plain))) });
      config.rootfs.diff_ids.push(`sha256:${createHash('sha256').update(plain).digest('hex')}`);
    }
    manifest.config = { ...manifest.config, ...(await put(Buffer.from(JSON.stringify(config)))) };
    const top = await put(Buffer.from(JSON.stringify(manifest)));
    await writeFile(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: manifest.mediaType, ...top }] }));
    const size = top.size + manifest.config.size + manifest.layers.reduce((n: number, l: { size: number }) => n + l.size, 0);
    const fx: Fixture = { root, layoutDir, digest: top.digest, size, layerDigests: [manifest.layers.map((l: { digest: string }) => l.digest)] };
    return fx;
  };
  const secretsOf = async (fx: Fixture, cache: LayerCache) => {
    let stats: LayerFactsStats = { read: -1, cached: -1 };
    const layout = await readLayoutImages(fx.layoutDir);
    const result = await checkSecrets({ layoutDir: fx.layoutDir, layerSets: layout.images.map((i) => i.layers), allowPaths: [], cache, onLayers: (s) => (stats = s) });
    return { result, stats };
  };
  const scanReport = async (fx: Fixture, cache: LayerCache, reportDir: string) => {
    const config = normalizeOptions({ scan: { scanner: 'trivy', allowUnscanned: 'never' } }, {});
    const imageRecord: ImageRecord = {
      schemaVersion: 1, project: 'auren-api', digest: fx.digest, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      platforms: ['linux/amd64'], size: fx.size, labels: {}, builder: { name: 'buildah', version: '1.28.2' }, createdAt: NOW.toISOString(),
    };
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${STANDINS}${delimiter}${dirname(process.execPath)}` };
    delete env.AUREN_STANDIN_FINDINGS;
    delete env.AUREN_STANDIN_FAIL;
    await runScanner({
      layoutDir: fx.layoutDir, imageRecord, imageName: '127.0.0.1:5000/auren/auren-api', policy: config.scan, budgets: config.budgets,
      registry: '127.0.0.1:5000', reportDir, now: NOW, env, layerCache: cache,
    });
    return JSON.parse(await readFile(join(reportDir, 'report.json'), 'utf8'));
  };

  it('a scan with the cache gives the full scan’s report.json gate and checks, reading only the new layer', async () => {
    const cache = createLayerCache(join(work, 'cache-a'));
    // The released image: base layers seen by an earlier scan, which fills the cache.
    const released = await image([[{ name: 'app/main.py', content: 'print("v1")\n' }]]);
    const first = await secretsOf(released, cache);
    expect(first.stats).toEqual({ read: 3, cached: 0 });

    // The change: a new app layer with a secret of its own, and one deleting the base's old key.
    const changed = await image([
      [{ name: 'app/main.py', content: 'print("v2")\n' }, { name: 'app/deploy.pem', content: FAKE_PEM }],
      [{ name: 'etc/ssl/private/.wh.old.key', content: '' }],
    ]);
    const cached = await secretsOf(changed, cache);
    expect(cached.stats).toEqual({ read: 2, cached: 2 });
    const full = await secretsOf(changed, noLayerCache());
    expect(full.stats).toEqual({ read: 4, cached: 0 });
    expect(cached.result).toEqual(full.result);
    // The verdict covers both: the old key (deleted later, still shipped), the token, the new key.
    expect(full.result.status).toBe('fail');
    expect(full.result.secrets?.map((s) => [s.path, s.layer, s.removedInLayer?.how])).toEqual([
      ['etc/ssl/private/old.key', changed.layerDigests[0][0], 'whiteout'],
      ['opt/deps/.env', changed.layerDigests[0][1], undefined],
      ['app/deploy.pem', changed.layerDigests[0][2], undefined],
    ]);

    // The same through runScanner: report.json's gate and checks are identical.
    const withCache = await scanReport(changed, cache, join(work, 'report-cached'));
    const withoutCache = await scanReport(changed, noLayerCache(), join(work, 'report-full'));
    expect(withCache.gate).toEqual(withoutCache.gate);
    expect(withCache.checks).toEqual(withoutCache.checks);
    expect(withCache.verdict).toBe('blocked');
    expect(withCache.checks.find((c: { id: string }) => c.id === 'secrets').secrets).toHaveLength(3);
  });

  it('keeps the digest pair, file counts and package list per layer', async () => {
    const dir = join(work, 'cache-b');
    const fx = await image([]);
    await secretsOf(fx, createLayerCache(dir));
    const record = await createLayerCache(dir).recordGet<LayerFacts>(LAYER_FACTS_KIND, layerFactsVersion(), fx.layerDigests[0][0]);
    const layout = await readLayoutImages(fx.layoutDir);
    const config = JSON.parse(await readFile(join(fx.layoutDir, 'blobs', 'sha256', layout.images[0].manifestDigest.slice(7)), 'utf8'));
    const configBlob = JSON.parse(await readFile(join(fx.layoutDir, 'blobs', 'sha256', config.config.digest.slice(7)), 'utf8'));
    expect(record).toMatchObject({
      digest: fx.layerDigests[0][0],
      diffId: configBlob.rootfs.diff_ids[0],
      compression: 'gzip',
      files: { count: 42 },
      packages: [{ name: 'libc6', version: '2.36-9', architecture: 'amd64' }],
    });
    expect(record?.secrets.map((s) => s.path)).toEqual(['etc/ssl/private/old.key']);
  });

  it('never trusts a damaged or other-version entry: it is read again and rewritten', async () => {
    const dir = join(work, 'cache-c');
    const fx = await image([]);
    await secretsOf(fx, createLayerCache(dir));
    const file = join(dir, LAYER_FACTS_KIND, layerFactsVersion(), 'sha256', `${fx.layerDigests[0][0].slice(7)}.json`);
    await writeFile(file, '{"digest": "trunc');
    const again = await secretsOf(fx, createLayerCache(dir));
    expect(again.stats).toEqual({ read: 1, cached: 1 });
    expect(again.result.secrets).toHaveLength(2);
    expect(JSON.parse(await readFile(file, 'utf8')).digest).toBe(fx.layerDigests[0][0]);
    // Records of another version sit in another folder and are never read.
    expect(await readdir(join(dir, LAYER_FACTS_KIND))).toEqual([layerFactsVersion()]);
    expect(await createLayerCache(dir).recordGet(LAYER_FACTS_KIND, 'v0-old', fx.layerDigests[0][0])).toBeUndefined();
  });

  it('refuses a layer blob whose bytes do not match its digest, and caches nothing for it', async () => {
    const dir = join(work, 'cache-d');
    const fx = await image([]);
    const blob = join(fx.layoutDir, 'blobs', 'sha256', fx.layerDigests[0][1].slice(7));
    await writeFile(blob, gzipSync(await tarOf([{ name: 'opt/deps/lib.py', content: 'x = 2\n' }])));
    await expect(secretsOf(fx, createLayerCache(dir))).rejects.toThrow(/has digest sha256:[0-9a-f]{64}: the layout is damaged/);
    expect(await createLayerCache(dir).recordGet(LAYER_FACTS_KIND, layerFactsVersion(), fx.layerDigests[0][1])).toBeUndefined();
  });

  it('lives beside the Nx cache, and can be turned off', () => {
    expect(layerCacheDir('/ws', {})).toBe('/ws/.nx/cache/auren-layers');
    expect(layerCacheDir('/ws', { NX_CACHE_DIRECTORY: '/var/cache/nx' })).toBe('/var/cache/nx/auren-layers');
    expect(layerCacheDir('/ws', { NX_CACHE_DIRECTORY: 'tmp/nx' })).toBe('/ws/tmp/nx/auren-layers');
    expect(openLayerCache('/ws', { AUREN_LAYER_CACHE: 'false' }).dir).toBeUndefined();
  });
});
