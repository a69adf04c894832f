import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseConfig, parseIndex, parseManifest, tryParseConfig, tryParseManifest } from '../registry/image-graph';
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

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}
interface Manifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  [key: string]: unknown;
}
interface IndexJson {
  manifests: Descriptor[];
  [key: string]: unknown;
}

const UNCOMPRESSED_LAYER = new Set(['application/vnd.oci.image.layer.v1.tar', 'application/vnd.docker.image.rootfs.diff.tar']);
const COMPRESSED_LAYER = new Set(['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+zstd']);
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/** JSON as Go's encoding/json writes it: compact, object keys in the order given, `<>&` and U+2028/9 escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const blobFile = (layoutDir: string, digest: string) => join(layoutDir, 'blobs', ...digest.split(':'));

/** A cache version string from the builder's name and version (`buildah-1.28.2`). */
export function exportCacheVersion(builder: string): string {
  return builder.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
}

/** A layout file's bytes, `undefined` when it is missing: a damaged earlier layout only costs the cache a hit. */
const readIfThere = (file: string): Promise<Buffer | undefined> => readFile(file).catch(() => undefined);

/** Every single-platform image of a layout: its manifest and its config's diffIDs. */
async function layoutImages(layoutDir: string): Promise<Array<{ manifest: Manifest; diffIds: string[]; labels: Record<string, string> }>> {
  const indexBody = await readIfThere(join(layoutDir, 'index.json'));
  const index = indexBody && tryParseManifest(indexBody);
  const out: Array<{ manifest: Manifest; diffIds: string[]; labels: Record<string, string> }> = [];
  const visit = async (descriptors: Descriptor[], depth: number) => {
    for (const d of descriptors) {
      if (depth > 3 || !/^sha256:[a-f0-9]{64}$/.test(d.digest)) continue;
      const bytes = await readIfThere(blobFile(layoutDir, d.digest));
      const parsed = bytes && tryParseManifest(bytes);
      if (!parsed) continue;
      if (parsed.kind === 'index') await visit(parsed.children as Descriptor[], depth + 1);
      else if (parsed.config && Array.isArray(parsed.document.layers)) {
        const configBytes = await readIfThere(blobFile(layoutDir, parsed.config.digest));
        const config = configBytes && tryParseConfig(configBytes);
        const diffIds = config?.rootfs?.diff_ids ?? [];
        const manifest = parsed.document as unknown as Manifest;
        if (diffIds.length === manifest.layers.length) out.push({ manifest, diffIds, labels: config?.config?.Labels ?? {} });
      }
    }
  };
  await visit((index?.children ?? []) as Descriptor[], 0);
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
      if (!COMPRESSED_LAYER.has(layer.mediaType)) continue;
      const file = blobFile(layoutDir, layer.digest);
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
  /** Layers that will come from the cache, by diffID. */
  reused: Map<string, CompressedLayer & { file: string }>;
  /** After the push: swap the placeholders for the cached blobs and rewrite manifest and index. */
  finish(): Promise<void>;
}

/**
 * Before `buildah push … oci:<layoutDir>`: a fresh layout folder with a placeholder for each
 * layer (by diffID) the cache can supply. `finish()` after the push makes the layout whole.
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
  for (const diffId of new Set(diffIds)) {
    if (!/^sha256:[a-f0-9]{64}$/.test(diffId)) continue;
    const record = await cache.recordGet<CompressedLayer>(COMPRESSED_KIND, version, diffId);
    if (!record || record.diffId !== diffId) continue;
    const file = await cache.blobGet(record.digest);
    const info = file ? await stat(file).catch(() => undefined) : undefined;
    // A blob of the wrong size is damaged: let the builder compress that layer again.
    if (!file || info?.size !== record.size) continue;
    reused.set(diffId, { ...record, file });
  }
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  for (const diffId of reused.keys()) await writeFile(blobFile(layoutDir, diffId), '');

  return {
    reused,
    async finish() {
      if (reused.size === 0 && !labels) return;
      const indexFile = join(layoutDir, 'index.json');
      const index = parseIndex(await readFile(indexFile)).document as unknown as IndexJson;
      for (const entry of index.manifests) {
        if (entry.mediaType !== MANIFEST_TYPE) continue;
        const oldFile = blobFile(layoutDir, entry.digest);
        const manifest = parseManifest(await readFile(oldFile)).document as unknown as Manifest;
        if (labels) manifest.config = await labelConfig(layoutDir, manifest.config, labels);
        manifest.layers = manifest.layers.map((layer) => {
          // The builder names a layer it took from a placeholder by its diffID, uncompressed; the
          // size is 0 (the placeholder's) or, when storage knows it, the uncompressed size.
          const hit = reused.get(layer.digest);
          if (!hit || !UNCOMPRESSED_LAYER.has(layer.mediaType)) return layer;
          // Same keys in the same order as the builder writes for a layer it compressed itself.
          return { ...layer, mediaType: hit.mediaType, digest: hit.digest, size: hit.size };
        });
        const bytes = goJson(manifest);
        const digest = sha256(bytes);
        await writeFile(blobFile(layoutDir, digest), bytes);
        if (digest !== entry.digest) await rm(oldFile, { force: true });
        entry.digest = digest;
        entry.size = Buffer.byteLength(bytes);
      }
      for (const [diffId, hit] of reused) {
        await rm(blobFile(layoutDir, diffId), { force: true });
        const target = blobFile(layoutDir, hit.digest);
        if (existsSync(target)) continue;
        await mkdir(dirname(target), { recursive: true });
        await link(hit.file, target).catch(() => copyFile(hit.file, target));
      }
      await writeFile(indexFile, goJson(index));
    },
  };
}

/**
 * The image's labels, written into its config at export rather than by the build: buildah turns
 * each `--label` into a LABEL step of its own, a layer commit each (8 labels cost about a third
 * of a one-layer rebuild), and a label that changes on every commit (revision, version) keeps
 * those steps from ever being cached. Keys are sorted, as Go writes a map.
 */
async function labelConfig(layoutDir: string, descriptor: Descriptor, labels: Record<string, string>): Promise<Descriptor> {
  const file = blobFile(layoutDir, descriptor.digest);
  const config = parseConfig(await readFile(file));
  config.config ??= {};
  const merged: Record<string, string> = { ...config.config.Labels, ...labels };
  config.config.Labels = Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]]));
  const bytes = goJson(config);
  const digest = sha256(bytes);
  await writeFile(blobFile(layoutDir, digest), bytes);
  if (digest !== descriptor.digest) await rm(file, { force: true });
  return { ...descriptor, digest, size: Buffer.byteLength(bytes) };
}

/** The workspace a path belongs to (nearest folder with nx.json), for callers that were not told. */
export function workspaceRootOf(path: string): string | undefined {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
