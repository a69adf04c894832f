/**
 * A layer is a file we did not write: its tar headers may say anything. The scan's layer reader
 * bounds what it holds as Go's archive/tar does (a PAX or GNU long-name header of at most 1 MiB,
 * sizes that are whole non-negative numbers, headers that are whole) and turns every violation
 * into an input error naming the layer, in bounded memory, never a crash of the process.
 */
import fc from 'fast-check';
import { readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AurenError } from '../../errors/errors';
import { END_OF_ARCHIVE, paxRecords, tarBlock, tarEntry, writeLayerBlob, type LayerPart } from '../hostile-tar.testing';
import { readLayoutImages } from '../../registry/layout';
import type { Descriptor } from '../../registry/media-types';
import { writeOciLayout } from '../oci-fixture.testing';
import { readLayerFacts, type LayerFacts } from './layer-facts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function layerOf(parts: LayerPart[], gzip = true) {
  const written = await writeLayerBlob(parts, { gzip });
  dirs.push(written.layoutDir);
  return written;
}

/** Reads the layer, sampling the process's buffer memory meanwhile; the peak above where it started. */
async function readMeasured(parts: LayerPart[]): Promise<{ facts?: LayerFacts; error?: unknown; layer: Descriptor; growth: number }> {
  const { layoutDir, layer } = await layerOf(parts);
  const start = process.memoryUsage().arrayBuffers;
  let peak = start;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 5);
  try {
    const outcome = await readLayerFacts(layoutDir, layer).then((facts): { facts?: LayerFacts; error?: unknown } => ({ facts }), (error: unknown) => ({ error }));
    return { ...outcome, layer, growth: Math.max(peak, process.memoryUsage().arrayBuffers) - start };
  } finally {
    clearInterval(sampler);
  }
}

const file = (name: string, content: string) => tarEntry({ name }, Buffer.from(content));

describe('a hostile layer fails its own read, clearly and in bounded memory', () => {
  it.each([
    ['a PAX header of 1 GiB', [tarBlock({ name: 'PaxHeaders/f', type: 'x', size: GiB }), { zeros: GiB }], /PAX header of 1073741824 bytes at offset 0: more than the 1 MiB/],
    ['a GNU long name that never ends', [tarBlock({ name: '././@LongLink', type: 'L', size: 8n * BigInt(GiB) }), { zeros: 256 * MiB }], /GNU long name of 8589934592 bytes at offset 0: more than the 1 MiB/],
    ['a GNU long link of 2 MiB', [tarEntry({ name: '././@LongLink', type: 'K' }, Buffer.alloc(2 * MiB, 0x61))], /GNU long link name of 2097152 bytes at offset 0/],
    ['a global PAX header of 1 GiB', [tarBlock({ name: 'pax_global_header', type: 'g', size: GiB }), { zeros: 64 * MiB }], /PAX global header of 1073741824 bytes/],
  ] as const)('%s', async (_name, parts, message) => {
    const { error, growth, layer } = await readMeasured([...parts]);
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).kind).toBe('input');
    expect((error as Error).message).toContain(layer.digest);
    expect((error as Error).message).toMatch(message);
    // Bounded: the reader never holds more than a header's worth (1 MiB) plus stream buffers.
    expect(growth).toBeLessThan(32 * MiB);
  }, 120_000);

  it.each([
    ['a header cut short', Buffer.concat([file('etc/a', 'a\n'), tarBlock({ name: 'etc/b', size: 3 }).subarray(0, 300)]), /ends inside the header at offset 1024/],
    ['an entry cut short', Buffer.concat([tarBlock({ name: 'etc/a', size: 4096 }), Buffer.alloc(1000)]), /ends inside the data of etc\/a/],
    ['a long name cut short', tarBlock({ name: '././@LongLink', type: 'L', size: 4096 }), /ends inside the data of a GNU long name/],
    ['a negative size (base-256)', Buffer.concat([tarBlock({ name: 'etc/a', sizeField: Buffer.from([0xff, ...Array(11).fill(0xff)]) }), END_OF_ARCHIVE]), /size field of etc\/a at offset 0 is not a size/],
    ['a size past 2^53 (base-256)', Buffer.concat([tarBlock({ name: 'etc/a', sizeField: Buffer.from([0x80, 0, 0, 0x7f, ...Array(8).fill(0xff)]) }), END_OF_ARCHIVE]), /size field of etc\/a at offset 0 is not a size/],
    ['a size that is not octal', Buffer.concat([tarBlock({ name: 'etc/a', sizeField: Buffer.from('0000000009x\0') }), END_OF_ARCHIVE]), /size field of etc\/a at offset 0 is not a size/],
    ['a PAX size that is negative', Buffer.concat([tarEntry({ name: 'PaxHeaders/a', type: 'x' }, paxRecords({ size: '-4096' })), file('etc/a', 'a'), END_OF_ARCHIVE]), /PAX record size="-4096" at offset 0 is not a size/],
    ['a PAX size that is not a number', Buffer.concat([tarEntry({ name: 'PaxHeaders/a', type: 'x' }, paxRecords({ size: '1e9' })), file('etc/a', 'a'), END_OF_ARCHIVE]), /PAX record size="1e9"/],
    ['a PAX record whose length lies', Buffer.concat([tarEntry({ name: 'PaxHeaders/a', type: 'x' }, Buffer.from('99 path=etc/x\n')), file('etc/a', 'a'), END_OF_ARCHIVE]), /malformed PAX record at offset 0/],
    ['a PAX record without a key', Buffer.concat([tarEntry({ name: 'PaxHeaders/a', type: 'x' }, Buffer.from('7 =abc\n')), file('etc/a', 'a'), END_OF_ARCHIVE]), /malformed PAX record at offset 0/],
    ['a size in a global PAX header', Buffer.concat([tarEntry({ name: 'pax_global_header', type: 'g' }, paxRecords({ size: '10' })), file('etc/a', 'a'), END_OF_ARCHIVE]), /PAX global header at offset 0 sets size/],
    ['a bad header checksum', Buffer.concat([file('etc/a', 'a'), tarBlock({ name: 'etc/b', badChecksum: true }), END_OF_ARCHIVE]), /header at offset 1024 has a wrong checksum/],
  ] as const)('%s', async (_name, bytes, message) => {
    for (const gzip of [true, false]) {
      const { layoutDir, layer } = await layerOf([bytes], gzip);
      const error = await readLayerFacts(layoutDir, layer).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(AurenError);
      expect((error as AurenError).kind).toBe('input');
      expect((error as Error).message).toMatch(message);
    }
  });

  it('reads what real tars write: PAX paths, GNU long names and links, a global header, up to 1 MiB', async () => {
    const longPath = `srv/${'d/'.repeat(200)}id_rsa`;
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n';
    const { layoutDir, layer } = await layerOf([
      tarEntry({ name: 'pax_global_header', type: 'g' }, paxRecords({ comment: 'x'.repeat(MiB - 64) })),
      tarEntry({ name: 'PaxHeaders/key', type: 'x' }, paxRecords({ path: longPath, mtime: '1700000000.5' })),
      file('placeholder', key),
      tarEntry({ name: '././@LongLink', type: 'L' }, Buffer.from(`usr/${'l/'.repeat(100)}long-name.txt\0`)),
      file('placeholder2', 'plain\n'),
      tarEntry({ name: '././@LongLink', type: 'K' }, Buffer.from(`usr/${'t/'.repeat(100)}target\0`)),
      tarEntry({ name: 'usr/link', type: '2' }),
      END_OF_ARCHIVE,
    ]);
    const facts = await readLayerFacts(layoutDir, layer);
    expect(facts.changes.map(([, path]) => path)).toEqual([longPath, `usr/${'l/'.repeat(100)}long-name.txt`, 'usr/link']);
    expect(facts.files.count).toBe(2);
    expect(facts.secrets.map((s) => s.path)).toEqual([longPath]);
  });

  it('any damage to a real layer ends in its facts or an input error, never anything else', async () => {
    const good = Buffer.concat([
      tarEntry({ name: 'PaxHeaders/a', type: 'x' }, paxRecords({ path: 'etc/a-long-name', size: '5' })),
      tarEntry({ name: 'etc/a' }, Buffer.from('hello')),
      tarEntry({ name: '././@LongLink', type: 'L' }, Buffer.from('etc/b-long-name\0')),
      tarEntry({ name: 'etc/b' }, Buffer.from('world')),
      tarEntry({ name: 'etc/', type: '5' }),
      END_OF_ARCHIVE,
    ]);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat({ max: good.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat({ max: good.length }), { nil: undefined }),
        async (flips, cut) => {
          const bytes = Buffer.from(good);
          for (const { at, byte } of flips) bytes[at] = byte;
          const { layoutDir, layer } = await writeLayerBlob([cut === undefined ? bytes : bytes.subarray(0, cut)], { gzip: false });
          try {
            const outcome = await readLayerFacts(layoutDir, layer).then(() => 'facts', (e: unknown) => e);
            if (outcome !== 'facts') {
              expect(outcome).toBeInstanceOf(AurenError);
              expect((outcome as AurenError).kind).toBe('input');
            }
          } finally {
            await rm(layoutDir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 300 },
    );
  }, 120_000);
});

describe('a hostile layout fails its scan in bounded memory', () => {
  async function layout() {
    const fixture = await writeOciLayout([{ layers: [[{ name: 'etc/a', content: 'a\n' }]] }]);
    dirs.push(fixture.root);
    const manifest = JSON.parse(await readFile(join(fixture.layoutDir, 'blobs/sha256', fixture.digest.slice(7)), 'utf8'));
    return { ...fixture, configPath: join(fixture.layoutDir, 'blobs/sha256', manifest.config.digest.slice(7)) };
  }

  it('refuses an index.json of more than 4 MiB before reading it', async () => {
    const { layoutDir } = await layout();
    await writeFile(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [], padding: 'x'.repeat(5 * MiB) }));
    await expect(readLayoutImages(layoutDir)).rejects.toThrow(/index.json at .* is 5242\d{3} bytes: more than the 4 MiB/);
  });

  it('refuses an image config that is not a regular file (a link to a device that never ends)', async () => {
    const { layoutDir, configPath } = await layout();
    await unlink(configPath);
    await symlink('/dev/zero', configPath);
    const error = await readLayoutImages(layoutDir).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).kind).toBe('input');
    expect((error as Error).message).toMatch(/image config sha256:[a-f0-9]{64} at .* is not a regular file/);
  });
});
