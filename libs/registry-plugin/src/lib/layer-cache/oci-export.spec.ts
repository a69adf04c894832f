/**
 * Incremental export against a full export, with real buildah: the same image written with
 * cached layers and written from scratch must be the same bytes (same digests everywhere).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildahBuilder } from '../builders/buildah';
import type { BuildRequest } from '../builders/builder';
import { exec } from '../exec/exec';
import { createLayerCache, noLayerCache, type LayerCache } from './layer-cache';
import { writeOciLayout } from '../scanners/oci-fixture.testing';
import { COMPRESSED_KIND, exportCacheVersion, goJson, prepareIncrementalExport, rememberLayout } from './oci-export';
import { listLayer } from './canonical-layer';
import { gzipSync } from 'node:zlib';
import { tarOf } from '../scanners/oci-fixture.testing';

/** Every file of a layout with its sha256: two layouts are equal when these are. */
async function layoutFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else out[path] = createHash('sha256').update(await readFile(join(dir, path))).digest('hex');
    }
  };
  await walk('');
  return out;
}

describe('incremental OCI layout export (real buildah)', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'auren-export-'));
    // A storage root of its own: nothing shared with other builds on the machine.
    env = { ...process.env, STORAGE_DRIVER: 'vfs', AUREN_BUILDAH_ROOT: join(work, 'storage') };
  });
  afterAll(async () => {
    await exec('buildah', ['--storage-driver', 'vfs', '--root', join(work, 'storage'), '--runroot', join(work, 'storage.run'), 'rmi', '--all', '--force'], { env, okExitCodes: [1, 125] }).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  const context = async (name: string, files: Record<string, string | Buffer>) => {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY base/ /base/\nCOPY deps/ /deps/\nCOPY app/ /app/\n');
    for (const [file, content] of Object.entries(files)) {
      await mkdir(join(dir, file, '..'), { recursive: true });
      await writeFile(join(dir, file), content);
    }
    return dir;
  };
  // Incompressible bytes: the base layers cost real compression time, as in our images.
  const base = { 'base/blob.bin': createHash('sha512').update('seed').digest().toString('hex').repeat(4000), 'deps/lib.txt': 'deps 1\n' };
  const build = (ctx: string, outputDir: string, layerCache: LayerCache) => {
    const request: BuildRequest = {
      context: ctx, dockerfile: join(ctx, 'Dockerfile'), buildArgs: {}, labels: { 'org.opencontainers.image.title': 'export-test' },
      platforms: [], target: undefined, outputDir, insecureRegistries: [], certDir: undefined, cacheFrom: [], cacheTo: [],
      timestamp: 0, localName: `localhost/export-test:${Math.random().toString(16).slice(2)}`, env, verbose: false, layerCache,
    };
    return buildahBuilder().build(request);
  };

  it('writes the same layout as a full export, compressing only the changed layer', async () => {
    const cache = createLayerCache(join(work, 'cache'));
    // Release 1 fills the cache with its compressed layers.
    await build(await context('v1', { ...base, 'app/main.py': 'print(1)\n' }), join(work, 'out-v1'), cache);

    // Release 2 changes the app layer only: exported twice, with the cache and without.
    const v2 = await context('v2', { ...base, 'app/main.py': 'print(2)\n' });
    await build(v2, join(work, 'out-incremental'), cache);
    await build(v2, join(work, 'out-full'), noLayerCache());
    const incremental = await layoutFiles(join(work, 'out-incremental'));
    const full = await layoutFiles(join(work, 'out-full'));
    expect(incremental).toEqual(full);
    // The incremental one resumed from the filesystem release 1 left below the app layer.
    expect(await readdir(join(work, 'cache'))).toEqual(expect.arrayContaining(['oci-canonical-fs', 'oci-canonical-layer']));
    expect(Object.keys(full).filter((f) => f.startsWith('blobs/'))).toHaveLength(5); // manifest, config, 3 layers

    // The base and deps layers came from the cache: the very files release 1 wrote (hard links).
    const index = JSON.parse(await readFile(join(work, 'out-incremental', 'index.json'), 'utf8'));
    const manifest = JSON.parse(await readFile(join(work, 'out-incremental', 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    const v1Index = JSON.parse(await readFile(join(work, 'out-v1', 'index.json'), 'utf8'));
    const v1Manifest = JSON.parse(await readFile(join(work, 'out-v1', 'blobs', 'sha256', v1Index.manifests[0].digest.slice(7)), 'utf8'));
    expect(manifest.layers.slice(0, 2)).toEqual(v1Manifest.layers.slice(0, 2));
    expect(manifest.layers[2].digest).not.toBe(v1Manifest.layers[2].digest);
    for (const layer of manifest.layers.slice(0, 2)) {
      const inode = (await stat(join(work, 'out-incremental', 'blobs', 'sha256', layer.digest.slice(7)))).ino;
      expect(inode).toBe((await stat(join(work, 'out-v1', 'blobs', 'sha256', layer.digest.slice(7)))).ino);
    }
    expect(manifest.layers.every((l: { mediaType: string }) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip')).toBe(true);
    // Labels are in the config (written at export, not as LABEL build steps).
    const config = JSON.parse(await readFile(join(work, 'out-incremental', 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8'));
    expect(config.config.Labels).toEqual({ 'io.buildah.version': expect.any(String), 'org.opencontainers.image.title': 'export-test' });
    expect(manifest.config.size).toBe(Buffer.byteLength(goJson(config)));
  }, 300_000);

  it('compresses a layer again when its cached blob is damaged', async () => {
    const cache = createLayerCache(join(work, 'cache-damaged'));
    const ctx = await context('v3', { ...base, 'app/main.py': 'print(3)\n' });
    await build(ctx, join(work, 'out-v3'), cache);
    const version = exportCacheVersion(`buildah-${await buildahBuilder().version()}`);
    const config = JSON.parse(await readFile(join(work, 'out-v3', 'blobs', 'sha256', (await layoutConfigDigest(join(work, 'out-v3'))).slice(7)), 'utf8'));
    const record = await cache.recordGet<{ digest: string }>(COMPRESSED_KIND, version, config.rootfs.diff_ids[0]);
    expect(record).toBeDefined();
    const before = await layoutFiles(join(work, 'out-v3'));
    // Damaged in place (through the hard link, the layout's copy too): the next build must not use it.
    await writeFile((await cache.blobGet(record!.digest))!, 'truncated');
    await build(ctx, join(work, 'out-v3'), cache);
    expect(await layoutFiles(join(work, 'out-v3'))).toEqual(before);
    // …and the cache holds a whole blob again.
    expect((await stat((await cache.blobGet(record!.digest))!)).size).toBeGreaterThan(1000);
  }, 300_000);

  it('keeps the last build under <name>:latest, so its parent layers stay in the builder cache', async () => {
    const g = ['--storage-driver', 'vfs', '--root', join(work, 'storage'), '--runroot', join(work, 'storage.run')];
    await build(await context('v4', { ...base, 'app/main.py': 'print(4)\n' }), join(work, 'out-v4'), noLayerCache());
    const { stdout } = await exec('buildah', [...g, 'images', '--all', '--noheading', '--format', '{{.Name}}:{{.Tag}} {{.ID}}'], { env });
    const names = stdout.split('\n').filter((line) => line.startsWith('localhost/export-test:')).map((line) => line.split(' ')[0]);
    // The build's own name is gone; the kept name points at the image just exported.
    expect(names).toEqual(['localhost/export-test:latest']);
    const kept = await exec('buildah', [...g, 'inspect', '--type', 'image', '--format', '{{len .OCIv1.RootFS.DiffIDs}}', 'localhost/export-test:latest'], { env });
    expect(kept.stdout.trim()).toBe('3');
    // Its parents (one image per step with --layers) are still there: removing the only name of
    // the image would have removed them too.
    expect(stdout.split('\n').filter((line) => line.startsWith('<none>')).length).toBeGreaterThanOrEqual(2);
  }, 300_000);

  it('writes the layers of a several-platform export as a single-platform export writes them (canonical)', async () => {
    const ctx = join(work, 'multi');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}.txt /arch.txt\nCOPY app/ /app/\n');
    for (const [file, content] of Object.entries({ 'amd64.txt': 'amd64\n', 'arm64.txt': 'arm64\n', 'app/main.py': 'print(5)\n' })) {
      await mkdir(join(ctx, file, '..'), { recursive: true });
      await writeFile(join(ctx, file), content);
    }
    const request = (outputDir: string, platforms: string[]): BuildRequest => ({
      context: ctx, dockerfile: join(ctx, 'Dockerfile'), buildArgs: {}, labels: {}, platforms, target: undefined, outputDir, insecureRegistries: [],
      certDir: undefined, cacheFrom: [], cacheTo: [], timestamp: 0, localName: `localhost/export-multi:${Math.random().toString(16).slice(2)}`, env, verbose: false,
      layerCache: noLayerCache(),
    });
    await buildahBuilder().build(request(join(work, 'out-multi'), ['linux/amd64', 'linux/arm64']));
    await buildahBuilder().build(request(join(work, 'out-single'), ['linux/amd64']));
    const read = async (dir: string, digest: string) => JSON.parse(await readFile(join(dir, 'blobs', 'sha256', digest.slice(7)), 'utf8'));
    const top = JSON.parse(await readFile(join(work, 'out-multi', 'index.json'), 'utf8'));
    const inner = await read(join(work, 'out-multi'), top.manifests[0].digest);
    const amd64 = inner.manifests.find((m: { platform?: { architecture: string } }) => m.platform?.architecture === 'amd64');
    const single = JSON.parse(await readFile(join(work, 'out-single', 'index.json'), 'utf8'));
    const multiLayers = (await read(join(work, 'out-multi'), amd64.digest)).layers;
    expect(multiLayers).toEqual((await read(join(work, 'out-single'), single.manifests[0].digest)).layers);
    // Nothing the builder wrote before the rewrite is left in the layout: only what the index names.
    const named = new Set<string>([top.manifests[0].digest]);
    for (const m of inner.manifests) {
      const manifest = await read(join(work, 'out-multi'), m.digest);
      for (const d of [m.digest, manifest.config.digest, ...manifest.layers.map((l: { digest: string }) => l.digest)]) named.add(d);
    }
    expect(Object.keys(await layoutFiles(join(work, 'out-multi'))).filter((f) => f.startsWith('blobs/')).sort()).toEqual([...named].map((d) => `blobs/sha256/${d.slice(7)}`).sort());
    // The platforms are listed in one order, whatever order the builder finished them in: the
    // same build asked the other way round is the same index.
    expect(inner.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    await buildahBuilder().build(request(join(work, 'out-multi-reversed'), ['linux/arm64', 'linux/amd64']));
    expect(JSON.parse(await readFile(join(work, 'out-multi-reversed', 'index.json'), 'utf8')).manifests[0].digest).toBe(top.manifests[0].digest);
  }, 300_000);

  it('remembers an earlier layout only when the predicate accepts its builder', async () => {
    const fx = await writeOciLayout([{ layers: [[{ name: 'a.txt', content: 'a' }], [{ name: 'b.txt', content: 'b' }]] }], await mkdtemp(join(work, 'fx-')));
    const cache = createLayerCache(join(work, 'cache-remember'));
    // The fixture's config has no io.buildah.version label: made by another builder.
    expect(await rememberLayout(cache, 'buildah-1.28.2', fx.layoutDir, (labels) => labels['io.buildah.version'] === '1.28.2')).toBe(0);
    expect(await cache.blobGet(fx.layerDigests[0][0])).toBeUndefined();
    expect(await rememberLayout(cache, 'buildah-1.28.2', fx.layoutDir)).toBe(2);
    expect(await cache.blobGet(fx.layerDigests[0][0])).toBeDefined();
  });

  /** What the builder writes after a push with one placeholder: config, a manifest naming it, index.json. */
  const builderLayout = async (dir: string, diffId: string, listedSize: number) => {
    const blob = async (body: string) => {
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), body);
      return { digest, size: Buffer.byteLength(body) };
    };
    const config = await blob(goJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }));
    const manifest = await blob(goJson({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: diffId, size: listedSize }],
    }));
    await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(dir, 'index.json'), goJson({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }] }));
  };
  /** A real layer in the cache, as an earlier export compressed it (COMPRESSED_KIND). */
  const cachedLayer = async (cache: LayerCache, name: string) => {
    const plain = await tarOf([{ name: 'etc/', type: 'directory' }, { name: 'etc/app.conf', content: 'x = 1\n' }]);
    const diffId = `sha256:${createHash('sha256').update(plain).digest('hex')}`;
    const layer = gzipSync(plain);
    const compressed = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
    const stored = join(work, name);
    await writeFile(stored, layer);
    await cache.blobPut(compressed, stored);
    await cache.recordPut(COMPRESSED_KIND, 'buildah-x', diffId, { diffId, digest: compressed, size: layer.length, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
    return { diffId, compressed, stored };
  };

  it('takes a placeholder\'s layer from the cache, whatever size the builder listed (0 or the uncompressed size)', async () => {
    // buildah lists a layer it took from a placeholder as `tar`, by diffID, with size 0, or with
    // the layer's uncompressed size when storage knows it (a base layer pulled from a registry).
    const cache = createLayerCache(join(work, 'cache-sized'));
    const { diffId } = await cachedLayer(cache, 'sized-layer.tar.gz');
    const layouts: Record<string, string>[] = [];
    for (const listedSize of [0, 84867072]) {
      const dir = join(work, `sized-layout-${listedSize}`);
      const prepared = await prepareIncrementalExport(cache, 'buildah-x', dir, [diffId]);
      expect([...prepared.reused.keys()]).toEqual([diffId]);
      await builderLayout(dir, diffId, listedSize);
      await prepared.finish();
      layouts.push(await layoutFiles(dir));

      const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
      const written = JSON.parse(await readFile(join(dir, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
      expect(written.layers).toEqual([{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: expect.stringMatching(/^sha256:/), size: expect.any(Number) }]);
      // The placeholder is gone; the canonical layer has the cached layer's entries.
      expect(await readdir(join(dir, 'blobs', 'sha256'))).not.toContain(diffId.slice(7));
      const entries = await listLayer(join(dir, 'blobs', 'sha256', written.layers[0].digest.slice(7)), join(work, 'list.tar'));
      expect(entries.map((e) => [e.path, e.type])).toEqual([['etc', 'dir'], ['etc/app.conf', 'file']]);
    }
    expect(layouts[1]).toEqual(layouts[0]);
  });

  it('leaves the layout incomplete, for a full export, when a cached layer turns out damaged', async () => {
    const cache = createLayerCache(join(work, 'cache-damaged-input'));
    const { diffId, compressed } = await cachedLayer(cache, 'damaged-layer.tar.gz');
    const dir = join(work, 'damaged-input-layout');
    const prepared = await prepareIncrementalExport(cache, 'buildah-x', dir, [diffId]);
    expect(prepared.reused.size).toBe(1);
    // Same size, other bytes: only reading it shows the damage.
    const file = (await cache.blobGet(compressed)) as string;
    const bytes = await readFile(file);
    await writeFile(file, gzipSync(Buffer.alloc(bytes.length, 0)).subarray(0, bytes.length));
    await builderLayout(dir, diffId, 0);
    await prepared.finish();
    expect(await readdir(dir)).not.toContain('index.json');
  });

  it('leaves a layout alone when the cache has nothing for it', async () => {
    const dir = join(work, 'empty-layout');
    const prepared = await prepareIncrementalExport(createLayerCache(join(work, 'cache-empty')), 'buildah-x', dir, ['sha256:' + 'a'.repeat(64)]);
    expect(prepared.reused.size).toBe(0);
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([]);
  });

  it.each([
    [{ a: '<b>&' }, '{"a":"\\u003cb\\u003e\\u0026"}'],
    [{ z: 1, a: [1, 'é'] }, '{"z":1,"a":[1,"é"]}'],
    [{ s: 'line\u2028sep' }, '{"s":"line\\u2028sep"}'],
  ])('serialises %j as Go does', (value, expected) => {
    expect(goJson(value)).toBe(expected);
  });
});

async function layoutConfigDigest(layoutDir: string): Promise<string> {
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(await readFile(join(layoutDir, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  return manifest.config.digest;
}
