import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { dirname, posix } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { AurenError } from '../errors/errors';
import type { LayerCache } from '../layer-cache/layer-cache';
import { hashingStream, parseDigest } from '../registry/digest';
import { blobCompression, type LayoutManifest, type OciLayout } from '../registry/layout';
import { readAll } from '../scanners/checks/layer-facts';
import { tarBounds } from '../scanners/checks/tar-bounds';

/**
 * One small file as a built image carries it, read from the OCI layout's layers, top layer
 * first: the first layer that writes the path (or deletes it with a whiteout) decides. Used for
 * the base image's package lock (/usr/share/auren/packages.lock), which provenance digests as
 * the image has it, so the record is a function of the image and not of what dist/ holds.
 *
 * What a layer holds at a path depends on the layer's bytes alone, so the answer is kept in the
 * layer cache by layer digest: the base image's big layer is read once per machine, not on every
 * build of every app FROM it (about 0.8 s a build).
 */

/** Files above this are not read: a package lock is a few kilobytes. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

type Found = { status: 'file'; data: Buffer } | { status: 'deleted' } | { status: 'absent' };
/** What one layer does to the path, as the layer cache keeps it. */
type LayerAnswer = { status: 'file'; sha256: string } | { status: 'deleted' } | { status: 'absent' };

/** The record kind's version: its shape, the size limit and the path asked for. */
const answerVersion = (path: string) => `v1-${createHash('sha256').update(JSON.stringify([path, MAX_FILE_BYTES])).digest('hex').slice(0, 16)}`;

/** The sha256 (hex) of the file at `path` in the image `manifest` describes, or undefined when it has none. */
export async function imageFileDigest(layout: OciLayout, manifest: LayoutManifest, path: string, cache: LayerCache): Promise<string | undefined> {
  const wanted = normalize(path);
  const version = answerVersion(wanted);
  const layers = manifest.blobs.slice(1).reverse();
  for (const digest of layers) {
    const blob = layout.blobs.find((b) => b.digest === digest);
    if (!blob) return undefined;
    let answer = await cache.recordGet<LayerAnswer>('image-file', version, digest);
    if (!answer) {
      const found = await findInLayer(blob.path, digest, wanted);
      answer = found.status === 'file' ? { status: 'file', sha256: createHash('sha256').update(found.data).digest('hex') } : found;
      await cache.recordPut('image-file', version, digest, answer);
    }
    if (answer.status === 'file') return answer.sha256;
    if (answer.status === 'deleted') return undefined;
  }
  return undefined;
}

function normalize(path: string): string {
  return posix.normalize(path.replace(/^(\.\/|\/)+/, ''));
}

async function findInLayer(file: string, digest: string, wanted: string): Promise<Found> {
  const compression = await blobCompression(file);
  const stored = hashingStream(parseDigest(digest).algorithm);
  const dir = posix.dirname(wanted);
  const whiteout = `${dir === '.' ? '' : `${dir}/`}.wh.${posix.basename(wanted)}`;
  let found: Found = { status: 'absent' };
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const name = normalize(header.name);
    if (found.status === 'absent' && name === whiteout) found = { status: 'deleted' };
    if (found.status === 'absent' && name === wanted && header.type === 'file' && (header.size ?? 0) <= MAX_FILE_BYTES) {
      readAll(stream).then((data) => {
        found = { status: 'file', data };
        next();
      }, next);
      return;
    }
    stream.on('end', () => next());
    stream.resume();
  });
  if (compression === 'zstd') {
    // Node 20 has no zstd decoder: such a layer is taken as not holding the file (its bytes are
    // still hashed, below).
    await pipeline(createReadStream(file), stored, new Writable({ write: (_chunk, _encoding, done) => done() }));
  } else {
    await pipeline(createReadStream(file), stored, compression === 'gzip' ? createGunzip() : new PassThrough(), tarBounds(), extract);
  }
  // The answer is kept under this digest: a blob that does not match it must not become a record.
  const actual = stored.result().digest;
  if (actual !== digest) {
    throw new AurenError('input', `layer blob ${digest} in ${dirname(file)} has digest ${actual}: the layout is damaged`, 'Rebuild the image with the docker-build target.');
  }
  return found;
}
