import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLayerCache, noLayerCache } from '../layer-cache/layer-cache';
import { readOciLayout } from '../registry/layout';
import { writeOciLayout, type FixtureImage } from '../scanners/oci-fixture.testing';
import { PACKAGE_LOCK_PATH, packageLocks } from './provenance';
import { imageFileDigest } from './image-file';

/**
 * The package lock provenance names is the one the image carries, read top layer first; the
 * answer per layer is kept in the layer cache by layer digest, so the base image's big layer is
 * read once, and a cached answer is never one for another path or another layer.
 */

const LOCK = 'base-files=12.4+deb12u13\n';
const OTHER = 'bash=5.2.15-2+b9\n';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const lockPath = PACKAGE_LOCK_PATH.slice(1);

async function layoutOf(image: FixtureImage) {
  const fixture = await writeOciLayout([image]);
  const layout = await readOciLayout(fixture.layoutDir);
  const manifest = layout.manifests.find((m) => m.children.length === 0);
  if (!manifest) throw new Error('fixture has no image manifest');
  return { fixture, layout, manifest };
}

describe('imageFileDigest', () => {
  const made: string[] = [];
  afterAll(async () => {
    for (const dir of made) await rm(dir, { recursive: true, force: true });
  });
  const folder = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auren-image-file-'));
    made.push(dir);
    return dir;
  };

  it('finds the file in a lower layer, and a higher layer that rewrites it wins', async () => {
    const below = await layoutOf({ layers: [[{ name: lockPath, content: LOCK }], [{ name: 'app/x', content: 'x' }]] });
    made.push(below.fixture.root);
    expect(await imageFileDigest(below.layout, below.manifest, PACKAGE_LOCK_PATH, noLayerCache())).toBe(sha(LOCK));

    const rewritten = await layoutOf({ layers: [[{ name: lockPath, content: LOCK }], [{ name: `./${lockPath}`, content: OTHER }]] });
    made.push(rewritten.fixture.root);
    expect(await imageFileDigest(rewritten.layout, rewritten.manifest, PACKAGE_LOCK_PATH, noLayerCache())).toBe(sha(OTHER));
  });

  it('a whiteout above the file removes it', async () => {
    const { fixture, layout, manifest } = await layoutOf({
      layers: [[{ name: lockPath, content: LOCK }], [{ name: 'usr/share/auren/.wh.packages.lock', content: '' }]],
    });
    made.push(fixture.root);
    expect(await imageFileDigest(layout, manifest, PACKAGE_LOCK_PATH, noLayerCache())).toBeUndefined();
  });

  it('reads a layer once: the second answer comes from the cache by layer digest', async () => {
    const { fixture, layout, manifest } = await layoutOf({ layers: [[{ name: lockPath, content: LOCK }], [{ name: 'app/x', content: 'x' }]] });
    made.push(fixture.root);
    const cache = createLayerCache(await folder());
    expect(await imageFileDigest(layout, manifest, PACKAGE_LOCK_PATH, cache)).toBe(sha(LOCK));

    // The layers' bytes are gone: only the cache can answer now.
    for (const blob of layout.blobs.filter((b) => manifest.blobs.slice(1).includes(b.digest))) await writeFile(blob.path, 'not a layer');
    expect(await imageFileDigest(layout, manifest, PACKAGE_LOCK_PATH, cache)).toBe(sha(LOCK));
    expect(await packageLocks(layout, cache)).toEqual([{ platform: 'linux/amd64', path: PACKAGE_LOCK_PATH, sha256: sha(LOCK) }]);

    // Another path is another record: it is not answered from the lock's, so the broken layers are read.
    await expect(imageFileDigest(layout, manifest, '/etc/os-release', cache)).rejects.toThrow();
    // Without the cache the same layout cannot be read either: the answer above was the cache's.
    await expect(imageFileDigest(layout, manifest, PACKAGE_LOCK_PATH, noLayerCache())).rejects.toThrow();
  });

  it('a layer blob whose bytes do not match its digest is refused, and no answer is kept for that digest', async () => {
    const { fixture, layout, manifest } = await layoutOf({ layers: [[{ name: lockPath, content: LOCK }]] });
    made.push(fixture.root);
    const cache = createLayerCache(await folder());
    const blob = layout.blobs.find((b) => b.digest === manifest.blobs[1]);
    if (!blob) throw new Error('fixture has no layer');
    const original = await readFile(blob.path);
    // Another layer's bytes (a valid tar with another lock) under this layer's digest.
    const other = await layoutOf({ layers: [[{ name: lockPath, content: OTHER }]] });
    made.push(other.fixture.root);
    const otherBlob = other.layout.blobs.find((b) => b.digest === other.manifest.blobs[1]);
    if (!otherBlob) throw new Error('fixture has no layer');
    await writeFile(blob.path, await readFile(otherBlob.path));
    await expect(imageFileDigest(layout, manifest, PACKAGE_LOCK_PATH, cache)).rejects.toThrow(/the layout is damaged/);
    await writeFile(blob.path, original);
    expect(await imageFileDigest(layout, manifest, PACKAGE_LOCK_PATH, cache)).toBe(sha(LOCK));
  });

  it('caches "absent" and "deleted" too, per layer', async () => {
    const { fixture, layout, manifest } = await layoutOf({
      layers: [[{ name: lockPath, content: LOCK }], [{ name: 'usr/share/auren/.wh.packages.lock', content: '' }], [{ name: 'app/x', content: 'x' }]],
    });
    made.push(fixture.root);
    const cache = createLayerCache(await folder());
    expect(await imageFileDigest(layout, manifest, PACKAGE_LOCK_PATH, cache)).toBeUndefined();
    for (const blob of layout.blobs.filter((b) => manifest.blobs.slice(1).includes(b.digest))) await writeFile(blob.path, 'not a layer');
    expect(await imageFileDigest(layout, manifest, PACKAGE_LOCK_PATH, cache)).toBeUndefined();
  });
});
