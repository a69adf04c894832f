import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { AurenError } from '../../errors/errors';
import type { LayerCache } from '../../layer-cache/layer-cache';
import { hashingStream, parseDigest } from '../../registry/digest';
import { blobCompression, layoutBlobPath, type BlobCompression } from '../../registry/layout';
import type { Descriptor } from '../../registry/media-types';
import { findSecretsInText, normalizeEntryPath, TEXT_RULES } from './secrets';
import { tarBounds } from './tar-bounds';
import type { SecretFinding } from './types';

/** Files above this size are not read: secrets live in small config and key files. */
export const MAX_SECRET_FILE_BYTES = 4 * 1024 * 1024;
/** NUL in the first bytes means binary; those are skipped. */
const BINARY_SNIFF_BYTES = 8192;
/** Findings kept per layer and per image; beyond that the image needs fixing, not a longer list. */
export const MAX_FINDINGS = 200;
const DPKG_STATUS = 'var/lib/dpkg/status';

export type LayerCompression = BlobCompression;

/**
 * Everything the built-in checks need from one layer, computed from its bytes alone (so it is
 * cached by the layer's digest; see lib/layer-cache).
 */
export interface LayerFacts {
  /** Digest of the blob as stored (compressed), verified while reading. */
  digest: string;
  /** Digest of the uncompressed tar (the image config's `rootfs.diff_ids` entry). */
  diffId: string;
  compression: LayerCompression;
  compressedSize: number;
  uncompressedSize: number;
  /** Regular files in the layer, and their total size. */
  files: { count: number; bytes: number };
  /** Text files (small, no NUL byte) read by the secret rules. */
  textFiles: number;
  /** Secrets in this layer's files, before allow-listing (which is a per-project setting). */
  secrets: Array<Omit<SecretFinding, 'layer' | 'removedInLayer'>>;
  /**
   * What this layer does to lower layers, in entry order: `w` whiteout of a path, `o` opaque
   * directory, `r` a non-directory entry replacing whatever was at that path.
   */
  changes: Array<['w' | 'o' | 'r', string]>;
  /** Installed Debian packages, when this layer writes the dpkg status database. */
  packages?: Array<{ name: string; version: string; architecture?: string }>;
}

export interface LayerFactsStats {
  /** Layers read from the layout in this run. */
  read: number;
  /** Layers whose facts came from the cache. */
  cached: number;
}

/**
 * Bump when the record's shape or the logic of findSecretsInText, a rule's `allow` or `mask`, or
 * the reading of a layer changes. Rule patterns and limits are part of the version by themselves.
 */
const LAYER_FACTS_SCHEMA = 2;

/**
 * The record version: the schema above plus the secret rules and limits. Changing a rule gives a
 * new version, so no finding is ever taken from a cache made with other rules. (Function source
 * text is not hashed: it differs between TypeScript loaders, which would split the cache.)
 */
let version: string | undefined;
export function layerFactsVersion(): string {
  version ??= `v${LAYER_FACTS_SCHEMA}-${createHash('sha256')
    .update(JSON.stringify({ rules: TEXT_RULES.map((r) => [r.id, r.re.source, r.re.flags]), MAX_SECRET_FILE_BYTES, BINARY_SNIFF_BYTES, MAX_FINDINGS }))
    .digest('hex')
    .slice(0, 16)}`;
  return version;
}

function drain(stream: Readable, next: (error?: unknown) => void): void {
  stream.on('end', () => next());
  stream.on('error', (error) => next(error));
  stream.resume();
}

/** The whole of a tar entry's stream; callers bound the entry's size before reading it. */
export function readAll(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** `Package:`/`Version:`/`Architecture:`/`Status:` stanzas of dpkg's status file; installed ones only. */
export function parseDpkgStatus(text: string): NonNullable<LayerFacts['packages']> {
  const out: NonNullable<LayerFacts['packages']> = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(stanza)?.[1]?.trim();
    const name = field('Package');
    const status = field('Status');
    const ver = field('Version');
    if (!name || !ver || !status?.endsWith(' installed')) continue;
    const architecture = field('Architecture');
    out.push({ name, version: ver, ...(architecture ? { architecture } : {}) });
  }
  return out;
}

/** Reads one layer once: streams its tar entries (one small file in memory at a time). */
export async function readLayerFacts(layoutDir: string, layer: Descriptor): Promise<LayerFacts> {
  const file = layoutBlobPath(layoutDir, layer.digest);
  const compression = await blobCompression(file).catch(() => {
    throw new AurenError('input', `layer ${layer.digest} is missing from ${layoutDir}`, 'Rebuild the image with the docker-build target.');
  });
  const { algorithm } = parseDigest(layer.digest);
  const facts: LayerFacts = {
    digest: layer.digest, diffId: '', compression, compressedSize: 0, uncompressedSize: 0,
    files: { count: 0, bytes: 0 }, textFiles: 0, secrets: [], changes: [],
  };
  if (compression === 'zstd') {
    // Node 20 has no zstd decoder: the check reports the layer as skipped.
    return { ...facts, compressedSize: layer.size };
  }
  const compressed = hashingStream(algorithm);
  const uncompressed = hashingStream('sha256');
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    // A throw in this listener would escape the pipeline (it runs inside tar-stream's write) and
    // end the process: it becomes this layer's error instead.
    try {
      onEntry(header, stream, next);
    } catch (error) {
      next(error);
    }
  });
  const onEntry = (header: tar.Headers, stream: Readable, next: (error?: unknown) => void): void => {
    const path = normalizeEntryPath(header.name);
    const base = posix.basename(path);
    const dir = posix.dirname(path) === '.' ? '' : posix.dirname(path);
    // AUFS-style whiteouts, as the OCI image spec defines them for layer changesets.
    if (base === '.wh..wh..opq') {
      facts.changes.push(['o', dir]);
      return drain(stream, next);
    }
    if (base.startsWith('.wh.')) {
      facts.changes.push(['w', dir ? `${dir}/${base.slice(4)}` : base.slice(4)]);
      return drain(stream, next);
    }
    if (header.type !== 'directory') facts.changes.push(['r', path]);
    const size = header.size ?? 0;
    if (header.type === 'file') {
      facts.files.count++;
      facts.files.bytes += size;
    }
    if (header.type !== 'file' || size === 0 || size > MAX_SECRET_FILE_BYTES) return drain(stream, next);
    readAll(stream).then(
      (content) => {
        if (!content.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
          facts.textFiles++;
          const text = content.toString('latin1');
          if (facts.secrets.length < MAX_FINDINGS) facts.secrets.push(...findSecretsInText(path, text).slice(0, MAX_FINDINGS - facts.secrets.length));
          if (path === DPKG_STATUS) facts.packages = parseDpkgStatus(text);
        }
        next();
      },
      (error) => next(error),
    );
  };
  try {
    // tarBounds checks every header before tar-stream sees it (tar-bounds.ts says what it bounds).
    await pipeline(createReadStream(file), compressed, compression === 'gzip' ? createGunzip() : new PassThrough(), uncompressed, tarBounds(), extract);
  } catch (error) {
    throw new AurenError('input', `layer ${layer.digest} in ${layoutDir} is not a readable tar stream: ${(error as Error).message}`,
      'Rebuild the image with the docker-build target.');
  }
  const c = compressed.result();
  // The cache is keyed by this digest: a blob that does not match it must not become a record.
  if (c.digest !== layer.digest) {
    throw new AurenError('input', `layer blob ${layer.digest} in ${layoutDir} has digest ${c.digest}: the layout is damaged`,
      'Rebuild the image with the docker-build target.');
  }
  const u = uncompressed.result();
  return { ...facts, diffId: u.digest, compressedSize: c.size, uncompressedSize: u.size };
}

export const LAYER_FACTS_KIND = 'layer-facts';

/**
 * Facts for each distinct layer: from the cache where an earlier scan (of any image) read the
 * same layer digest, else read now and stored. Two layers are read at a time.
 */
export async function layerFactsFor(layoutDir: string, layers: readonly Descriptor[], cache?: LayerCache): Promise<{ facts: Map<string, LayerFacts>; stats: LayerFactsStats }> {
  const facts = new Map<string, LayerFacts>();
  const stats: LayerFactsStats = { read: 0, cached: 0 };
  const ver = layerFactsVersion();
  const queue = [...layers];
  const worker = async () => {
    for (let layer = queue.shift(); layer; layer = queue.shift()) {
      const hit = await cache?.recordGet<LayerFacts>(LAYER_FACTS_KIND, ver, layer.digest);
      if (hit && hit.digest === layer.digest) {
        facts.set(layer.digest, hit);
        stats.cached++;
        continue;
      }
      const fresh = await readLayerFacts(layoutDir, layer);
      stats.read++;
      facts.set(layer.digest, fresh);
      // zstd layers were not read: nothing worth keeping.
      if (fresh.compression !== 'zstd') await cache?.recordPut(LAYER_FACTS_KIND, ver, layer.digest, fresh).catch(() => undefined);
    }
  };
  // Both workers finish before an error is reported: none keeps writing to the cache afterwards.
  const settled = await Promise.allSettled([worker(), worker()]);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  return { facts, stats };
}
