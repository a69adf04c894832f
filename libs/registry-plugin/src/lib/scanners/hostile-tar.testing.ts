import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { hashingStream } from '../registry/digest';
import type { Descriptor } from '../registry/media-types';

/**
 * Test helper: tar bytes written by hand, so a test can say things no tar writer would (a PAX
 * header of gigabytes, a long name that never ends, a size field that is negative), and blobs of
 * them in a bare layout folder, gzip-compressed as streams (a gigabyte of zeros is a megabyte).
 */
export interface BlockFields {
  name?: string;
  /** Tar typeflag: '0' file, '5' directory, 'x' PAX, 'g' PAX global, 'L' GNU long name, 'K' GNU long link. */
  type?: string;
  size?: number | bigint;
  /** The 12 bytes of the size field as written, instead of `size` in octal (e.g. base-256). */
  sizeField?: Buffer;
  /** Leave the checksum wrong. */
  badChecksum?: boolean;
}

export function tarBlock(fields: BlockFields): Buffer {
  const block = Buffer.alloc(512);
  block.write(fields.name ?? 'file', 0, 100, 'utf8');
  block.write('0000644\0', 100);
  block.write('0000000\0', 108);
  block.write('0000000\0', 116);
  if (fields.sizeField) fields.sizeField.copy(block, 124, 0, 12);
  else block.write(`${BigInt(fields.size ?? 0).toString(8).padStart(11, '0')}\0`, 124);
  block.write('00000000000\0', 136);
  block.write(fields.type ?? '0', 156, 1, 'latin1');
  block.write('ustar\0', 257);
  block.write('00', 263);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  if (fields.badChecksum) sum += 1;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return block;
}

/** Data padded to the next 512-byte block. */
export function padded(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest ? Buffer.concat([data, Buffer.alloc(512 - rest)]) : data;
}

/** One entry: header and padded data. */
export function tarEntry(fields: BlockFields, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([tarBlock({ size: data.length, ...fields }), padded(data)]);
}

/** PAX records `"<len> <key>=<value>\n"`, each length counting itself. */
export function paxRecords(records: Record<string, string>): Buffer {
  return Buffer.from(Object.entries(records).map(([key, value]) => {
    const body = ` ${key}=${value}\n`;
    let len = body.length + 1;
    while (`${len}${body}`.length !== len) len++;
    return `${len}${body}`;
  }).join(''));
}

export const END_OF_ARCHIVE = Buffer.alloc(1024);

/** A part of a layer: bytes, or `zeros` bytes of zeros (streamed, never held in memory). */
export type LayerPart = Buffer | { zeros: number };

async function* partsOf(parts: LayerPart[]): AsyncGenerator<Buffer> {
  const chunk = Buffer.alloc(1024 * 1024);
  for (const part of parts) {
    if (Buffer.isBuffer(part)) {
      yield part;
      continue;
    }
    for (let left = part.zeros; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
  }
}

/** Writes the parts, gzip-compressed, as a blob of a fresh layout folder; returns its descriptor. */
export async function writeLayerBlob(parts: LayerPart[], options: { gzip?: boolean; root?: string } = {}): Promise<{ layoutDir: string; layer: Descriptor }> {
  const layoutDir = await mkdtemp(join(options.root ?? tmpdir(), 'auren-hostile-layer-'));
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  const tmp = join(layoutDir, 'blob.tmp');
  const counted = hashingStream('sha256');
  const source = Readable.from(partsOf(parts));
  if (options.gzip === false) await pipeline(source, counted, createWriteStream(tmp));
  else await pipeline(source, createGzip({ level: 1 }), counted, createWriteStream(tmp));
  const { digest, size } = counted.result();
  await rename(tmp, join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  await writeFile(join(layoutDir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return { layoutDir, layer: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size } };
}

/**
 * A whole OCI layout under `root/oci` whose one layer is the given parts (gzip-compressed), with
 * a config and manifest that are in order: the image a built-in check would be handed.
 */
export async function writeHostileImage(root: string, parts: LayerPart[]): Promise<{ layoutDir: string; digest: string; size: number }> {
  const written = await writeLayerBlob(parts, { root });
  const layoutDir = join(root, 'oci');
  await rename(written.layoutDir, layoutDir);
  const put = async (body: Buffer) => {
    const hex = createHash('sha256').update(body).digest('hex');
    await writeFile(join(layoutDir, 'blobs', 'sha256', hex), body);
    return { digest: `sha256:${hex}`, size: body.length };
  };
  const config = await put(Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', config: { User: '10001' }, rootfs: { type: 'layers', diff_ids: [written.layer.digest] } })));
  const manifest = await put(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [written.layer],
  })));
  const platform = { os: 'linux', architecture: 'amd64' };
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform }] }));
  return { layoutDir, digest: manifest.digest, size: manifest.size + config.size + written.layer.size };
}
