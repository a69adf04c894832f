import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../exec/exec';
import { readOciLayout } from './layout';
import { writeTestLayout } from './testing-layout';

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
