import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AurenError } from '../errors/errors';
import { exec } from '../exec/exec';
import { sha256Digest } from './digest';
import { layoutBlobLink, layoutBlobPath, layoutBlobWrite, layoutIndexWrite, readLayoutImages, readOciLayout } from './layout';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from './media-types';
import { writeTestLayout } from './layout.testing';

describe('readOciLayout', () => {
  it('reads a two-platform layout: manifests children first, blobs, platforms, size', async () => {
    const { dir, layout } = await writeTestLayout({ platforms: ['linux/amd64', 'linux/arm64/v8'] });
    try {
      expect(layout.mediaType).toBe('application/vnd.oci.image.index.v1+json');
      expect(layout.platforms).toEqual(['linux/amd64', 'linux/arm64/v8']);
      expect(layout.manifests.map((m) => m.digest).at(-1)).toBe(layout.digest);
      expect(layout.manifests).toHaveLength(3);
      // shared base layer counted once: 1 shared + 2×2 own layers + 2 configs
      expect(layout.blobs).toHaveLength(7);
      const total = [...layout.manifests, ...layout.blobs].reduce((s, b) => s + b.size, 0);
      expect(layout.size).toBe(total);
      expect(layout.annotations['org.opencontainers.image.ref.name']).toBe('latest');
      // A standard client agrees the layout is an image.
      const raw = await exec('skopeo', ['inspect', '--raw', `oci:${dir}`]);
      expect(JSON.parse(raw.stdout).manifests).toHaveLength(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads a single-manifest layout and takes the platform from the config', async () => {
    const { dir, layout } = await writeTestLayout({ platforms: ['linux/amd64'] });
    try {
      expect(layout.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(layout.platforms).toEqual(['linux/amd64']);
      expect(layout.manifests).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const broken: Array<[string, (dir: string, layout: Awaited<ReturnType<typeof writeTestLayout>>['layout']) => Promise<void>, RegExp]> = [
    ['no oci-layout file', (dir) => rm(join(dir, 'oci-layout')), /oci-layout is missing/],
    ['wrong layout version', (dir) => writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}'), /expected "1.0.0"/],
    ['index.json not JSON', (dir) => writeFile(join(dir, 'index.json'), '<html>'), /index.json is not valid JSON/],
    ['empty index.json', (dir) => writeFile(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}'), /lists no image/],
    ['missing layer', (dir, l) => rm(l.blobs[1].path), /missing from blobs/],
    ['truncated layer', (dir, l) => truncate(l.blobs[1].path, 3), /is 3 bytes but/],
    ['tampered manifest', async (dir, l) => {
      const m = l.manifests[0];
      const body = await readFile(m.path);
      await writeFile(m.path, Buffer.from(body.toString().replace('"schemaVersion":2', '"schemaVersion":3')));
    }, /does not hash to its name/],
  ];
  it.each(broken)('fails clearly for %s', async (_name, damage, message) => {
    const { dir, layout } = await writeTestLayout();
    try {
      await damage(dir, layout);
      await expect(readOciLayout(dir)).rejects.toMatchObject({ kind: 'input', message: expect.stringMatching(message), hint: expect.stringContaining('Rebuild') });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('hashes layers on request', async () => {
    const { dir, layout } = await writeTestLayout({ platforms: ['linux/amd64'] });
    try {
      const layer = layout.blobs.find((b) => b.mediaType.includes('layer'))!;
      const bytes = await readFile(layer.path);
      bytes[bytes.length - 1] ^= 0xff;
      await writeFile(layer.path, bytes);
      await expect(readOciLayout(dir)).resolves.toBeTruthy();
      await expect(readOciLayout(dir, { verifyLayers: true })).rejects.toThrow(/does not hash to its name/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the layout writers', () => {
  it('write a layout that both readers and skopeo read as the same image', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auren-layout-write-'));
    try {
      const layerFile = join(dir, 'layer.tar.gz');
      await writeFile(join(dir, 'hello'), 'hello\n');
      await exec('tar', ['-C', dir, '-czf', layerFile, 'hello']);
      const layerBytes = await readFile(layerFile);
      const layerDigest = sha256Digest(layerBytes);
      await layoutBlobLink(dir, layerDigest, layerFile);
      // Placing a blob the layout has already is a no-op, whatever the file says.
      await layoutBlobLink(dir, layerDigest, join(dir, 'hello'));
      expect((await stat(layoutBlobPath(dir, layerDigest))).size).toBe(layerBytes.length);

      const config = await layoutBlobWrite(dir, JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: '10001' }, rootfs: { type: 'layers', diff_ids: [] } }));
      const layer = { mediaType: OCI_LAYER_GZIP, digest: layerDigest, size: layerBytes.length };
      const manifest = await layoutBlobWrite(dir, JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, ...config }, layers: [layer] }));
      await layoutIndexWrite(dir, [{ mediaType: OCI_MANIFEST, ...manifest }]);

      const graph = await readOciLayout(dir, { verifyLayers: true });
      expect(graph).toMatchObject({ digest: manifest.digest, platforms: ['linux/amd64'] });
      expect(graph.blobs.map((b) => b.digest)).toEqual([config.digest, layerDigest]);
      const images = await readLayoutImages(dir);
      expect(images.images).toMatchObject([{ manifestDigest: manifest.digest, config: { config: { User: '10001' } }, layers: [layer] }]);
      expect(images.reachableBytes).toBe(graph.size);
      const raw = await exec('skopeo', ['inspect', '--raw', `oci:${dir}`]);
      expect(JSON.parse(raw.stdout).layers).toEqual([layer]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('both readers refuse a path-like digest in index.json before building a path from it', async () => {
    const { dir, layout } = await writeTestLayout({ platforms: ['linux/amd64'] });
    try {
      const hostile = { mediaType: OCI_MANIFEST, digest: 'sha256:../../../../etc/passwd', size: layout.manifests[0].size };
      await layoutIndexWrite(dir, [hostile]);
      await expect(readOciLayout(dir)).rejects.toThrow(AurenError);
      await expect(readLayoutImages(dir)).rejects.toMatchObject({ kind: 'input', message: expect.stringMatching(/invalid digest/) });
      expect(() => layoutBlobPath(dir, hostile.digest)).toThrow(AurenError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
