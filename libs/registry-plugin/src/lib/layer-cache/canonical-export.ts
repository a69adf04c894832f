import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AurenError } from '../errors/errors';
import { isDigest, pinnedDigest, sha256Digest } from '../registry/digest';
import { canonicalizeLayer, CANONICAL_GZIP_LEVEL, CANONICAL_MEDIA_TYPE, LowerFilesystem, type Node } from './canonical-layer';
import type { LayerCache } from './layer-cache';
import { UnsupportedTarError } from './tar-format';

/**
 * The layers of an exported image in their canonical form (lib/layer-cache/canonical-layer.ts),
 * with the work kept in the layer cache.
 *
 * A layer's canonical form depends on the layers below it (an entry is dropped when they already
 * hold it), so it is cached by the layer's chain: the OCI ChainID of its diffID and those below
 * (`sha256(chain(below) + " " + diffID)`), as the storage produced them, plus the build's epoch.
 * The record names the canonical diffID and its compressed blob, which the cache keeps.
 *
 * Every layer of the image is written this way, those without anything to drop too: the
 * compressed bytes must be a function of the canonical tar alone, whichever driver (or the cache)
 * supplied it, or two machines would agree on the diffID and still differ in the digest.
 */
export const CANONICAL_KIND = 'oci-canonical-layer';

/** The cache version of canonical records: the form's own version and the compressor's. */
export function canonicalCacheVersion(): string {
  return `v1-gzip${CANONICAL_GZIP_LEVEL}-zlib${process.versions.zlib}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
}

/** The filesystem an image's layers up to a chain make (canonical-layer.ts), so later layers need not read them. */
export const FILESYSTEM_KIND = 'oci-canonical-fs';
interface FilesystemRecord {
  chainId: string;
  epoch: number | null;
  nodes: Array<[string, Node]>;
}
const filesystemKey = (chainId: string, epoch: number | undefined) => sha256Digest(`${chainId} ${epoch ?? 'none'}`);

export interface CanonicalRecord {
  chainId: string;
  /** The epoch entries were compared with (see canonical-layer.ts), `null` without one. */
  epoch: number | null;
  inputDiffId: string;
  diffId: string;
  digest: string;
  size: number;
  mediaType: string;
  dropped: number;
}

export interface CanonicalLayerOut {
  diffId: string;
  digest: string;
  size: number;
  mediaType: string;
  /** Where the compressed blob is now (the cache, or the scratch folder when there is no cache). */
  file: string;
}

/** OCI ChainIDs of an image's layers, bottom first. */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const [i, diffId] of diffIds.entries()) out.push(i === 0 ? diffId : sha256Digest(`${out[i - 1]} ${diffId}`));
  return out;
}

/** The epoch a build stamped into its config (`created`), in whole seconds; undefined when absent. */
export function configEpoch(created: unknown): number | undefined {
  if (typeof created !== 'string') return undefined;
  const ms = Date.parse(created);
  return Number.isFinite(ms) && ms >= 0 ? Math.floor(ms / 1000) : undefined;
}

/**
 * buildah notes in each history entry the image the step ran on: `FROM <12 hex digits>`, the ID
 * of an intermediate image, which is the digest of a config naming the layers as the storage
 * made them, so it differs between drivers like the layers did. It is dropped; a base image's
 * reference (`FROM registry/repo@sha256:…`) names what the build pulled and stays.
 */
export function canonicalHistory(history: unknown): unknown {
  if (!Array.isArray(history)) return history;
  return history.map((item: unknown) => {
    if (!item || typeof item !== 'object' || Array.isArray(item)) return item;
    const { comment, ...rest } = item as Record<string, unknown>;
    return typeof comment === 'string' && /^FROM [0-9a-f]{12,64}$/.test(comment) ? rest : item;
  });
}

/**
 * `org.opencontainers.image.base.digest` as buildah writes it names the image the last stage was
 * built on as the local storage holds it; for a stage built on another stage that is an
 * intermediate image, whose digest depends on the storage driver like its layers. A consumer can
 * only resolve what `…base.name` names: its pinned digest is kept, anything else is dropped.
 */
export function canonicalAnnotations(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  const digest = annotations?.[BASE_DIGEST];
  if (!annotations || digest === undefined) return annotations;
  const pinned = pinnedDigest(annotations[BASE_NAME] ?? '');
  if (pinned === digest) return annotations;
  if (pinned) return { ...annotations, [BASE_DIGEST]: pinned };
  const { [BASE_DIGEST]: _dropped, ...rest } = annotations;
  return rest;
}
const BASE_DIGEST = 'org.opencontainers.image.base.digest';
const BASE_NAME = 'org.opencontainers.image.base.name';

/** A usable record for a chain: its blob is in the cache with the recorded size. */
export async function cachedCanonical(cache: LayerCache, chainId: string, epoch: number | undefined | 'any'): Promise<(CanonicalRecord & { file: string }) | undefined> {
  if (!isDigest(chainId, 'sha256')) return undefined;
  const record = await cache.recordGet<CanonicalRecord>(CANONICAL_KIND, canonicalCacheVersion(), chainId);
  if (!record || record.chainId !== chainId) return undefined;
  if (epoch !== 'any' && record.epoch !== (epoch ?? null)) return undefined;
  const file = await cache.blobGet(record.digest);
  if (!file || (await stat(file).catch(() => undefined))?.size !== record.size) return undefined;
  return { ...record, file };
}

export type CanonicalImage =
  | { kind: 'done'; layers: CanonicalLayerOut[]; dropped: number }
  /** A layer the builder skipped (a placeholder) is needed and the cache has no input for it. */
  | { kind: 'input-missing'; diffId: string }
  /** A layer uses a tar feature the reader refuses (sparse files, zstd): the image stays as built. */
  | { kind: 'unsupported'; reason: string };

/**
 * The canonical layers of one image. `inputs[i]` is the blob holding layer i as the storage made
 * it (diffID `diffIds[i]`): written by the builder, or taken from the cache for a layer the builder
 * skipped; undefined when it skipped one the cache cannot supply.
 */
export async function canonicalizeImage(options: {
  cache: LayerCache;
  inputs: ReadonlyArray<{ file: string; cached: boolean } | undefined>;
  diffIds: readonly string[];
  epoch: number | undefined;
  scratchDir: string;
}): Promise<CanonicalImage> {
  const { cache, inputs, diffIds, epoch, scratchDir } = options;
  const chains = chainIds(diffIds);
  const hits = await Promise.all(chains.map((chain) => cachedCanonical(cache, chain, epoch)));
  // A cached canonical blob that cannot be read is treated as a miss, and the work starts over.
  for (let attempt = 0; attempt <= hits.length; attempt++) {
    try {
      return await canonicalizeWith(hits);
    } catch (error) {
      if (!(error instanceof DamagedCacheEntry)) throw error;
      hits[error.index] = undefined;
    }
  }
  throw new AurenError('internal', 'the layer cache kept failing while layers were canonicalised', 'Build again with AUREN_LAYER_CACHE=false.');

  async function canonicalizeWith(known: Array<(CanonicalRecord & { file: string }) | undefined>): Promise<CanonicalImage> {
    const misses = known.flatMap((hit, i) => (hit ? [] : [i]));
    const out = known.map((hit) => (hit ? { diffId: hit.diffId, digest: hit.digest, size: hit.size, mediaType: hit.mediaType, file: hit.file } : undefined));
    let dropped = known.reduce((n, hit) => n + (hit?.dropped ?? 0), 0);
    if (misses.length === 0) return { kind: 'done', layers: out as CanonicalLayerOut[], dropped };
    for (const i of misses) if (!inputs[i]) return { kind: 'input-missing', diffId: diffIds[i] };

    // Layers below the last miss are read to know the filesystem it lands on: from the canonical
    // blob when cached (reading a canonical layer drops nothing, so the filesystem is the same).
    const lastMiss = misses[misses.length - 1];
    // The filesystem below the first miss, when an earlier export kept it: then only the layers
    // from there on are read (a rebuild that changed its top layer reads that layer alone).
    let lower = new LowerFilesystem();
    let start = 0;
    for (let k = misses[0] - 1; k >= 0; k--) {
      const snapshot = await cache.recordGet<FilesystemRecord>(FILESYSTEM_KIND, canonicalCacheVersion(), filesystemKey(chains[k], epoch));
      if (snapshot?.chainId !== chains[k] || snapshot.epoch !== (epoch ?? null) || !Array.isArray(snapshot.nodes)) continue;
      lower = LowerFilesystem.fromSnapshot(snapshot.nodes);
      start = k + 1;
      break;
    }
    for (let i = start; i <= lastMiss; i++) {
      const scratchTar = join(scratchDir, `layer-${i}.tar`);
      const hit = known[i];
      if (hit) {
        await canonicalizeLayer(hit.file, lower, { epoch, scratchTar }).catch((error: unknown) => {
          throw error instanceof UnsupportedTarError || isReadError(error) ? new DamagedCacheEntry(i) : error;
        });
        continue;
      }
      const output = join(scratchDir, `layer-${i}.tar.gz`);
      const input = inputs[i] as { file: string; cached: boolean };
      let result: Awaited<ReturnType<typeof canonicalizeLayer>>;
      try {
        result = await canonicalizeLayer(input.file, lower, { epoch, scratchTar, output });
      } catch (error) {
        if (error instanceof UnsupportedTarError && !input.cached) return { kind: 'unsupported', reason: error.message };
        // A damaged cache entry only costs a full export.
        if (input.cached) return { kind: 'input-missing', diffId: diffIds[i] };
        throw error;
      }
      if (result.inputDiffId !== diffIds[i]) {
        if (input.cached) return { kind: 'input-missing', diffId: diffIds[i] };
        throw new AurenError('input', `layer ${i} of the exported image has diffID ${result.inputDiffId}, but its config says ${diffIds[i]}`,
          'The export is damaged: build again (with --skip-nx-cache if it repeats, or AUREN_LAYER_CACHE=false).');
      }
      const written = result.written as NonNullable<typeof result.written>;
      await cache.blobPut(written.digest, output);
      const record: CanonicalRecord = { chainId: chains[i], epoch: epoch ?? null, inputDiffId: diffIds[i], ...written, mediaType: CANONICAL_MEDIA_TYPE, dropped: result.dropped };
      await cache.recordPut(CANONICAL_KIND, canonicalCacheVersion(), chains[i], record);
      out[i] = { ...written, mediaType: CANONICAL_MEDIA_TYPE, file: (await cache.blobGet(written.digest)) ?? output };
      dropped += result.dropped;
      if (i < diffIds.length - 1 && cache.dir) {
        const snapshot: FilesystemRecord = { chainId: chains[i], epoch: epoch ?? null, nodes: lower.snapshot() };
        await cache.recordPut(FILESYSTEM_KIND, canonicalCacheVersion(), filesystemKey(chains[i], epoch), snapshot);
      }
    }
    return { kind: 'done', layers: out as CanonicalLayerOut[], dropped };
  }
}

class DamagedCacheEntry extends Error {
  constructor(readonly index: number) {
    super(`cached canonical layer ${index} is damaged`);
  }
}

/** zlib and stream failures: the bytes are not what the record promised. */
const isReadError = (error: unknown) => error instanceof Error && ('code' in error || /unexpected end|incorrect header|invalid/i.test(error.message));
