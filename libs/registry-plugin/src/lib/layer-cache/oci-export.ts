import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { trace } from '../exec/exec';
import { isDigest } from '../registry/digest';
import { parseConfig, parseIndex, type ConfigDocument, parseManifest, tryParseConfig, tryParseManifest } from '../registry/image-graph';
import { layoutBlobLink, layoutBlobPath, layoutBlobWrite } from '../registry/layout';
import {
  COMPRESSED_LAYER_MEDIA_TYPES,
  INDEX_MEDIA_TYPES,
  OCI_MANIFEST,
  UNCOMPRESSED_LAYER_MEDIA_TYPES,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
} from '../registry/media-types';
import { cachedCanonical, canonicalAnnotations, canonicalHistory, canonicalizeImage, chainIds, configEpoch } from './canonical-export';
import type { LayerCache } from './layer-cache';

/**
 * Incremental OCI layout export.
 *
 * `buildah push <image> oci:<dir>` re-compresses every layer of the image on every build, though
 * a one-line change alters one small layer. containers/image (v5.23, buildah 1.28) asks the `oci:`
 * destination, before reading a layer from storage, whether it already holds the blob named by
 * the layer's *uncompressed* digest (the diffID), and skips the layer when that file exists. So
 * before the push we put an empty placeholder at `blobs/sha256/<diffID>` for every layer whose
 * compressed form an earlier export left in the layer cache (keyed by diffID), let buildah
 * compress only the other layers, and then put the cached compressed blobs in place of the
 * placeholders and rewrite the manifest and index.json to name them. The compressed bytes are
 * the ones buildah itself made for the same diffID earlier, and the JSON is serialised as Go's
 * encoding/json does, so the layout is byte for byte the one a full export writes (same digests).
 *
 * The cache records carry the builder's version: another version may compress differently, and
 * its blobs must not be mixed with this one's.
 */
export const COMPRESSED_KIND = 'oci-compressed';

export interface CompressedLayer {
  diffId: string;
  digest: string;
  size: number;
  mediaType: string;
}

/** JSON as Go's encoding/json writes it: compact, object keys in the order given, `<>&` and U+2028/9 escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A cache version string from the builder's name and version (`buildah-1.28.2`). */
export function exportCacheVersion(builder: string): string {
  return builder.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
}

/** A layout file's bytes, `undefined` when it is missing: a damaged earlier layout only costs the cache a hit. */
const readIfThere = (file: string): Promise<Buffer | undefined> => readFile(file).catch(() => undefined);

/** Every single-platform image of a layout: its manifest and its config's diffIDs. */
async function layoutImages(layoutDir: string): Promise<Array<{ manifest: ImageManifest; diffIds: string[]; labels: Record<string, string> }>> {
  const indexBody = await readIfThere(join(layoutDir, 'index.json'));
  const index = indexBody && tryParseManifest(indexBody);
  const out: Array<{ manifest: ImageManifest; diffIds: string[]; labels: Record<string, string> }> = [];
  const visit = async (descriptors: Descriptor[], depth: number) => {
    for (const d of descriptors) {
      if (depth > 3 || !isDigest(d.digest, 'sha256')) continue;
      const bytes = await readIfThere(layoutBlobPath(layoutDir, d.digest));
      const parsed = bytes && tryParseManifest(bytes);
      if (!parsed) continue;
      if (parsed.kind === 'index') await visit(parsed.children, depth + 1);
      else if (parsed.config && Array.isArray(parsed.document.layers)) {
        const configBytes = await readIfThere(layoutBlobPath(layoutDir, parsed.config.digest));
        const config = configBytes && tryParseConfig(configBytes);
        const diffIds = config?.rootfs?.diff_ids ?? [];
        const manifest = parsed.document as unknown as ImageManifest;
        if (diffIds.length === manifest.layers.length) out.push({ manifest, diffIds, labels: config?.config?.Labels ?? {} });
      }
    }
  };
  await visit(index?.children ?? [], 0);
  return out;
}

/**
 * Remembers the diffID ↔ compressed pair and the compressed blob of every layer of a layout
 * (an export just written, or the one an earlier build left), so a later export can skip them.
 */
export async function rememberLayout(
  cache: LayerCache,
  version: string,
  layoutDir: string,
  /** Only images this says yes to (e.g. made by this builder version: another may compress differently). */
  accept: (labels: Record<string, string>) => boolean = () => true,
): Promise<number> {
  if (!cache.dir || !existsSync(join(layoutDir, 'index.json'))) return 0;
  let n = 0;
  for (const { manifest, diffIds, labels } of await layoutImages(layoutDir)) {
    if (!accept(labels)) continue;
    for (const [i, layer] of manifest.layers.entries()) {
      if (!COMPRESSED_LAYER_MEDIA_TYPES.includes(layer.mediaType)) continue;
      const file = layoutBlobPath(layoutDir, layer.digest);
      const info = await stat(file).catch(() => undefined);
      if (!info || info.size !== layer.size) continue;
      const known = await cache.recordGet<CompressedLayer>(COMPRESSED_KIND, version, diffIds[i]);
      const stored = known?.digest === layer.digest ? await cache.blobGet(layer.digest) : undefined;
      if (stored && (await stat(stored).catch(() => undefined))?.size === layer.size) continue;
      await cache.blobPut(layer.digest, file);
      await cache.recordPut<CompressedLayer>(COMPRESSED_KIND, version, diffIds[i], { diffId: diffIds[i], digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
      n++;
    }
  }
  return n;
}

export interface PreparedExport {
  /** Layers the builder is told it need not write (placeholders), by diffID. */
  reused: Map<string, CompressedLayer & { file: string }>;
  /**
   * After the push: every image of the layout gets its canonical layers (canonical-export.ts) and
   * its labels, manifests and index.json are rewritten to name them. When a skipped layer turns
   * out to be needed and the cache cannot supply it, index.json is removed, so the caller sees an
   * incomplete layout and exports again in full.
   */
  finish(): Promise<void>;
}

/**
 * Before `buildah push … oci:<layoutDir>`: a fresh layout folder with a placeholder for each
 * layer (by diffID, as the storage made it) the builder need not write, because the cache holds
 * its canonical form for its place in the image (its chain), or the layer itself (any compressed
 * form of the same diffID: canonicalisation reads it). `finish()` after the push makes the layout
 * whole and canonical.
 */
export async function prepareIncrementalExport(
  cache: LayerCache,
  version: string,
  layoutDir: string,
  diffIds: readonly string[],
  options: { labels?: Record<string, string> } = {},
): Promise<PreparedExport> {
  const labels = options.labels && Object.keys(options.labels).length > 0 ? options.labels : undefined;
  const reused = new Map<string, CompressedLayer & { file: string }>();
  /** Placeholders whose layer, as the storage made it, the cache holds: diffID → blob. */
  const inputs = new Map<string, string>();
  const chains = chainIds(diffIds);
  for (const diffId of new Set(diffIds)) {
    if (!isDigest(diffId, 'sha256')) continue;
    const input = await cachedInput(cache, version, diffId);
    if (input) {
      reused.set(diffId, input);
      inputs.set(diffId, input.file);
      continue;
    }
    // Without the layer itself, every place it has in the image needs its canonical form cached.
    const canonical = await Promise.all(diffIds.flatMap((d, i) => (d === diffId ? [cachedCanonical(cache, chains[i], 'any')] : [])));
    const first = canonical[0];
    if (first && canonical.every(Boolean)) reused.set(diffId, { diffId, digest: first.digest, size: first.size, mediaType: first.mediaType, file: first.file });
  }
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  for (const diffId of reused.keys()) await writeFile(layoutBlobPath(layoutDir, diffId), '');

  return {
    reused,
    async finish() {
      const scratchDir = await mkdtemp(join(tmpdir(), 'auren-export-'));
      try {
        await finishLayout({ cache, layoutDir, reused, inputs, labels, scratchDir });
      } finally {
        await rm(scratchDir, { recursive: true, force: true });
      }
    },
  };
}

/** The layer `diffId` as some earlier export compressed it (any compression of the same tar will do). */
async function cachedInput(cache: LayerCache, version: string, diffId: string): Promise<(CompressedLayer & { file: string }) | undefined> {
  const record = await cache.recordGet<CompressedLayer>(COMPRESSED_KIND, version, diffId);
  if (!record || record.diffId !== diffId) return undefined;
  const file = await cache.blobGet(record.digest);
  // A blob of the wrong size is damaged: let the builder write that layer again.
  if (!file || (await stat(file).catch(() => undefined))?.size !== record.size) return undefined;
  return { ...record, file };
}

class IncompleteExport extends Error {}

async function finishLayout(args: {
  cache: LayerCache;
  layoutDir: string;
  reused: Map<string, CompressedLayer & { file: string }>;
  inputs: Map<string, string>;
  labels: Record<string, string> | undefined;
  scratchDir: string;
}): Promise<void> {
  const { layoutDir } = args;
  const indexFile = join(layoutDir, 'index.json');
  const index = parseIndex(await readFile(indexFile)).document as unknown as ImageIndex;

  const rewriteManifest = async (entry: Descriptor): Promise<void> => {
    const manifest = parseManifest(await readFile(layoutBlobPath(layoutDir, entry.digest))).document as unknown as ImageManifest;
    if (args.labels) manifest.config = await labelConfig(layoutDir, manifest.config, args.labels);
    const configFile = layoutBlobPath(layoutDir, manifest.config.digest);
    const config = parseConfig(await readFile(configFile));
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length === manifest.layers.length) await canonicalManifest(manifest, config, diffIds);
    Object.assign(entry, await layoutBlobWrite(layoutDir, goJson(manifest)));
  };

  const canonicalManifest = async (manifest: ImageManifest, config: ConfigDocument, diffIds: string[]): Promise<void> => {
    // The builder names a layer it took from a placeholder by its diffID, uncompressed; the size
    // is 0 (the placeholder's) or, when storage knows it, the uncompressed size.
    const inputs = manifest.layers.map((layer, i) => {
      const placeholder = layer.digest === diffIds[i] && UNCOMPRESSED_LAYER_MEDIA_TYPES.includes(layer.mediaType) && args.reused.has(layer.digest);
      if (!placeholder) return { file: layoutBlobPath(layoutDir, layer.digest), cached: false };
      // Only a cached copy of the layer itself is an input; a cached canonical form is not.
      const cached = args.inputs.get(layer.digest);
      return cached ? { file: cached, cached: true } : undefined;
    });
    // A folder of its own per image: the layers of an earlier platform are hard-linked into the
    // layout from their scratch files, which the next platform's layers must not overwrite.
    const scratchDir = await mkdtemp(join(args.scratchDir, 'image-'));
    const result = await canonicalizeImage({ cache: args.cache, inputs, diffIds, epoch: configEpoch(config.created), scratchDir });
    if (result.kind === 'input-missing') throw new IncompleteExport(result.diffId);
    if (result.kind === 'unsupported') {
      trace(`layers left as built, not canonical: ${result.reason}`, performance.now());
      if (inputs.some((input) => input?.cached !== false)) throw new IncompleteExport(result.reason);
    } else {
      for (const layer of result.layers) await layoutBlobLink(layoutDir, layer.digest, layer.file);
      config.rootfs = { ...config.rootfs, diff_ids: result.layers.map((layer) => layer.diffId) };
      if ('history' in config) config.history = canonicalHistory(config.history);
      if (manifest.annotations) manifest.annotations = canonicalAnnotations(manifest.annotations);
      // Same keys in the same order as the builder writes for a layer it compressed itself.
      manifest.layers = manifest.layers.map((layer, i) => ({ ...layer, mediaType: result.layers[i].mediaType, digest: result.layers[i].digest, size: result.layers[i].size }));
      manifest.config = { ...manifest.config, ...(await layoutBlobWrite(layoutDir, goJson(config))) };
    }
  };

  try {
    for (const entry of index.manifests) {
      if (entry.mediaType === OCI_MANIFEST) await rewriteManifest(entry);
      else if (INDEX_MEDIA_TYPES.includes(entry.mediaType)) {
        // Several platforms: each image in the inner index, then the index itself.
        const inner = parseIndex(await readFile(layoutBlobPath(layoutDir, entry.digest))).document as unknown as ImageIndex;
        for (const child of inner.manifests) if (child.mediaType === OCI_MANIFEST) await rewriteManifest(child);
        inner.manifests = byPlatform(inner.manifests);
        Object.assign(entry, await layoutBlobWrite(layoutDir, goJson(inner)));
      }
    }
  } catch (error) {
    if (!(error instanceof IncompleteExport)) throw error;
    trace(`the incremental export lacks layer ${error.message}; the layout is left incomplete`, performance.now());
    await rm(indexFile, { force: true });
    return;
  }
  await writeFile(indexFile, goJson(index));
  await removeUnreferenced(layoutDir, index);
}

/**
 * The platforms of an index in one order, whatever order the builder listed them in: buildah adds
 * each platform to its manifest list as its build finishes, so two builds of the same inputs
 * listed arm64 and amd64 either way round, and the index digest differed while every image in it
 * was the same. Sorted by os/architecture/variant (a stable sort keeps any other entry's place).
 */
export function byPlatform(manifests: Descriptor[]): Descriptor[] {
  const key = (d: Descriptor) => (d.platform ? `${d.platform.os}/${d.platform.architecture}/${d.platform.variant ?? ''}` : '');
  return [...manifests].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Blobs the builder wrote that no manifest names any more (the layers as built, old configs). */
async function removeUnreferenced(layoutDir: string, index: ImageIndex): Promise<void> {
  const keep = new Set<string>();
  const visit = async (descriptors: Descriptor[]) => {
    for (const d of descriptors) {
      keep.add(d.digest);
      const body = await readIfThere(layoutBlobPath(layoutDir, d.digest));
      const parsed = body && (INDEX_MEDIA_TYPES.includes(d.mediaType) || d.mediaType === OCI_MANIFEST) ? tryParseManifest(body) : undefined;
      if (!parsed) continue;
      if (parsed.kind === 'index') await visit(parsed.children);
      else {
        if (parsed.config) keep.add(parsed.config.digest);
        for (const layer of parsed.layers) keep.add(layer.digest);
      }
    }
  };
  await visit(index.manifests);
  const dir = join(layoutDir, 'blobs', 'sha256');
  for (const name of await readdir(dir)) if (!keep.has(`sha256:${name}`)) await rm(join(dir, name), { force: true });
}

/**
 * The image's labels, written into its config at export rather than by the build: buildah turns
 * each `--label` into a LABEL step of its own, a layer commit each (8 labels cost about a third
 * of a one-layer rebuild), and a label that changes on every commit (revision, version) keeps
 * those steps from ever being cached. Keys are sorted, as Go writes a map.
 */
async function labelConfig(layoutDir: string, descriptor: Descriptor, labels: Record<string, string>): Promise<Descriptor> {
  const file = layoutBlobPath(layoutDir, descriptor.digest);
  const config = parseConfig(await readFile(file));
  config.config ??= {};
  const merged: Record<string, string> = { ...config.config.Labels, ...labels };
  config.config.Labels = Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]]));
  const written = await layoutBlobWrite(layoutDir, goJson(config));
  if (written.digest !== descriptor.digest) await rm(file, { force: true });
  return { ...descriptor, ...written };
}

/** The workspace a path belongs to (nearest folder with nx.json), for callers that were not told. */
export function workspaceRootOf(path: string): string | undefined {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
