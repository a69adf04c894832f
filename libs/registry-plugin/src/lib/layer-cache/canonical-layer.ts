import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { blobCompression, type BlobCompression } from '../registry/layout';
import { OCI_LAYER_GZIP } from '../registry/media-types';
import { dataPadding, encodeHeader, END_OF_ARCHIVE, readTarEntries, UnsupportedTarError, type TarEntry } from './tar-format';

/**
 * One canonical form for a layer, whatever storage driver computed its diff.
 *
 * buildah's storage writes a layer as the difference between the container's filesystem and
 * the layers below, and each driver computes that difference its own way:
 * - overlay takes the upper directory as it is: every directory or file a step merely opened for
 *   writing was copied up and is recorded unchanged (`run`, `tmp`, `var/lib/dpkg/lock-frontend`,
 *   debconf's databases, `etc/.pwd.lock`), entries come in directory-walk order, and whiteouts,
 *   being hard links of one device node, carry the first one's path in their link field;
 * - vfs compares the two trees (a "naive" diff): it records what changed, plus the directories
 *   above each change, ignores directory times, and sorts by path.
 * The same Dockerfile then gives other bytes, so another digest, on another machine.
 *
 * The canonical form keeps what the layer changes and nothing that depends on how it was found:
 * - an entry equal to what the layers below already hold at its path (same type, permissions,
 *   owner, extended attributes, and for non-directories the same size, content, link target,
 *   device numbers and time) is dropped, unless a kept entry lies below it (the naive diff keeps
 *   those directories so that extraction restores their ownership rather than making them with
 *   default permissions) or a hard link of the layer points at it. A directory's time is not
 *   compared, as the naive diff does not compare it. A time equal to the build's fixed epoch
 *   (buildah's `--timestamp`, which stamps every entry of a built layer) says nothing about
 *   whether the entry changed, so it is not compared either;
 * - whiteouts are kept, written one way (no extractor reads their metadata). An opaque-directory
 *   marker, overlay's record of a directory removed and made again, is spelled out as the
 *   whiteouts the naive diff writes for the same change (each path below it that the layers
 *   below hold and this layer does not put back), so the two agree. The layer's other entries
 *   are compared with what remains below once the whiteouts apply;
 * - entries are sorted by path (bytes), hard links point at the first path of their group in
 *   that order, and each header is written one way (lib/layer-cache/tar-format.ts).
 * Dropping an equal entry never changes the filesystem an extractor builds, except a directory's
 * time; the form is idempotent, so a layer already canonical (a base image exported this way)
 * comes out byte for byte the same.
 */

/** What the layers below hold at a path, for the comparison. */
export interface Node {
  type: TarEntry['type'];
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** sha256 of a regular file's content. */
  hash: string;
  linkname: string;
  devmajor: number;
  devminor: number;
  records: string;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** The filesystem the layers below make, path by path. */
export class LowerFilesystem {
  private readonly nodes = new Map<string, Node>();
  private readonly children = new Map<string, Set<string>>();

  get size(): number {
    return this.nodes.size;
  }
  /** Every path and what it holds, for the layer cache (a later export resumes from it). */
  snapshot(): Array<[string, Node]> {
    return [...this.nodes];
  }
  static fromSnapshot(nodes: Array<[string, Node]>): LowerFilesystem {
    const fs = new LowerFilesystem();
    for (const [path, node] of nodes) fs.set(path, node);
    return fs;
  }
  get(path: string): Node | undefined {
    return this.nodes.get(path);
  }
  set(path: string, node: Node): void {
    this.nodes.set(path, node);
    const parent = parentOf(path);
    if (parent === undefined) return;
    let set = this.children.get(parent);
    if (!set) this.children.set(parent, (set = new Set()));
    set.add(path);
  }
  childrenOf(path: string): string[] {
    return [...(this.children.get(path) ?? [])];
  }
  /** A whiteout: the path and everything below it. */
  remove(path: string): void {
    this.removeChildren(path);
    this.nodes.delete(path);
    this.children.get(parentOf(path) ?? '')?.delete(path);
  }
  /** An opaque directory: everything below it, not itself. */
  removeChildren(path: string): void {
    const kids = this.children.get(path);
    if (!kids) return;
    this.children.delete(path);
    for (const kid of kids) {
      this.removeChildren(kid);
      this.nodes.delete(kid);
    }
  }
}

function parentOf(path: string): string | undefined {
  if (path === '') return undefined;
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

const recordsKey = (records: Map<string, Buffer>) =>
  [...records.keys()].sort().map((key) => `${key}=${(records.get(key) as Buffer).toString('hex')}`).join('\n');

function nodeOf(entry: TarEntry, hash: string): Node {
  return {
    type: entry.type, mode: entry.mode, uid: entry.uid, gid: entry.gid, size: entry.size, mtime: entry.mtime, hash,
    linkname: entry.linkname, devmajor: entry.devmajor, devminor: entry.devminor, records: recordsKey(entry.records),
  };
}

function sameAsBelow(entry: Node, below: Node | undefined, epoch: number | undefined): boolean {
  if (!below || entry.type !== below.type) return false;
  if (entry.mode !== below.mode || entry.uid !== below.uid || entry.gid !== below.gid || entry.records !== below.records) return false;
  if (entry.type === 'dir') return true;
  if (entry.mtime !== below.mtime && entry.mtime !== epoch) return false;
  return entry.size === below.size && entry.hash === below.hash && entry.linkname === below.linkname
    && entry.devmajor === below.devmajor && entry.devminor === below.devminor;
}

const markerOf = (path: string): { kind: 'whiteout' | 'opaque'; target: string } | undefined => {
  const base = posix.basename(path);
  if (!base.startsWith(WHITEOUT)) return undefined;
  const dir = posix.dirname(path) === '.' ? '' : posix.dirname(path);
  if (base === OPAQUE) return { kind: 'opaque', target: dir };
  const name = base.slice(WHITEOUT.length);
  return { kind: 'whiteout', target: dir ? `${dir}/${name}` : name };
};

/** A whiteout as written: a marker, whose metadata no extractor reads, so always the same. */
function markerEntry(path: string): TarEntry {
  return { path, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, linkname: '', devmajor: 0, devminor: 0, records: new Map(), dataOffset: 0 };
}
function whiteoutPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? `${WHITEOUT}${path}` : `${path.slice(0, slash)}/${WHITEOUT}${path.slice(slash + 1)}`;
}

const byPathBytes = (a: { path: string }, b: { path: string }) => Buffer.compare(Buffer.from(a.path, 'utf8'), Buffer.from(b.path, 'utf8'));

export interface LayerPlan {
  /** Entries to write, in order, with the offset their data is read from. */
  entries: TarEntry[];
  dropped: number;
}

/**
 * Decides a layer's canonical entries against the filesystem below, and applies the layer to it.
 * `hashes[i]` is the sha256 of entry i's data (regular files).
 */
export function planLayer(layerEntries: TarEntry[], layerHashes: string[], lower: LowerFilesystem, epoch: number | undefined): LayerPlan {
  // The last entry for a path wins, as on extraction.
  const last = new Map<string, number>();
  layerEntries.forEach((entry, i) => last.set(entry.path, i));
  const live = layerEntries.flatMap((entry, i) => (last.get(entry.path) === i ? [{ entry, hash: layerHashes[i] }] : []));
  const present = new Map(live.filter(({ entry }) => !markerOf(entry.path)).map(({ entry }) => [entry.path, entry.type]));
  // Markers in one form. An opaque directory (overlay's record of a directory removed and made
  // again) is spelled out as the whiteouts the naive diff writes for the same change: one for
  // each path below it that the layers below hold and this layer does not put back.
  const work = new Map<string, { entry: TarEntry; hash: string }>();
  for (const item of live) {
    const marker = markerOf(item.entry.path);
    if (!marker) work.set(item.entry.path, item);
    else if (marker.kind === 'whiteout') work.set(item.entry.path, { entry: markerEntry(item.entry.path), hash: '' });
    else {
      const spell = (dir: string): void => {
        for (const child of lower.childrenOf(dir)) {
          const type = present.get(child);
          if (type === undefined) work.set(whiteoutPath(child), { entry: markerEntry(whiteoutPath(child)), hash: '' });
          else if (type === 'dir' && lower.get(child)?.type === 'dir') spell(child);
        }
      };
      spell(marker.target);
    }
  }
  const entries = [...work.values()].map(({ entry }) => entry);
  const hashes = [...work.values()].map(({ hash }) => hash);
  const indices = entries.map((_, i) => i);

  // Deletions apply to what is below before anything of this layer is compared with it.
  for (const entry of entries) {
    const marker = markerOf(entry.path);
    if (marker?.kind === 'whiteout') lower.remove(marker.target);
  }
  const linkTargets = new Set(entries.filter((entry) => entry.type === 'hardlink').map((entry) => entry.linkname));
  const keep = new Set<number>();
  const dirs: number[] = [];
  for (const i of indices) {
    const entry = entries[i];
    if (markerOf(entry.path) || entry.type === 'hardlink' || linkTargets.has(entry.path)) keep.add(i);
    else if (!sameAsBelow(nodeOf(entry, hashes[i]), lower.get(entry.path), epoch)) keep.add(i);
    else if (entry.type === 'dir') dirs.push(i);
  }
  // A directory equal to the one below stays when something kept lies under it.
  const above = new Set<string>();
  for (const i of keep) for (let p = parentOf(entries[i].path); p !== undefined && p !== ''; p = parentOf(p)) above.add(p);
  for (const i of dirs) if (above.has(entries[i].path)) keep.add(i);

  // Apply: regular entries first, then hard links, which take what they point at.
  const kept = [...keep].sort((a, b) => a - b);
  for (const i of kept) {
    const entry = entries[i];
    if (markerOf(entry.path) || entry.type === 'hardlink') continue;
    lower.set(entry.path, nodeOf(entry, hashes[i]));
  }
  for (const i of kept) {
    const entry = entries[i];
    if (entry.type !== 'hardlink') continue;
    const target = lower.get(entry.linkname);
    lower.set(entry.path, target ?? nodeOf(entry, ''));
  }
  return { entries: rootHardlinks(kept.map((i) => entries[i]).sort(byPathBytes)), dropped: Math.max(0, layerEntries.length - kept.length) };
}

/**
 * In path order, a hard link may come before the file it points at (overlay and vfs walk the
 * tree in different orders, and the tar writer makes the first path it meets the file). Each
 * group of paths of one file in this layer gets the first of them, in the written order, as the
 * file, and the others as links to it.
 */
function rootHardlinks(sorted: TarEntry[]): TarEntry[] {
  const byPath = new Map(sorted.map((entry) => [entry.path, entry]));
  const rootOf = (entry: TarEntry): TarEntry | undefined => {
    let current: TarEntry | undefined = entry;
    for (let hops = 0; current?.type === 'hardlink' && hops < 64; hops++) current = byPath.get(current.linkname);
    return current?.type === 'hardlink' ? undefined : current;
  };
  const firstOfGroup = new Map<TarEntry, TarEntry>();
  const out = [...sorted];
  for (const [index, entry] of out.entries()) {
    if (entry.type !== 'hardlink') continue;
    const root = rootOf(entry);
    // A link to a file of a lower layer (or to nothing in this one) stays as it is.
    if (!root || !byPath.has(root.path)) continue;
    const first = firstOfGroup.get(root);
    if (first) {
      out[index] = { ...root, path: entry.path, type: 'hardlink', size: 0, linkname: first.path };
      continue;
    }
    const rootIndex = out.indexOf(root);
    if (rootIndex < index) {
      firstOfGroup.set(root, root);
      out[index] = { ...root, path: entry.path, type: 'hardlink', size: 0, linkname: root.path };
    } else {
      // This link comes first: it becomes the file, and the file a link to it.
      firstOfGroup.set(root, { ...root, path: entry.path });
      out[index] = { ...root, path: entry.path };
      out[rootIndex] = { ...root, type: 'hardlink', size: 0, linkname: entry.path };
    }
  }
  return out;
}

export type Compression = BlobCompression;

function hashingStream(hash: ReturnType<typeof createHash>, counter?: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      hash.update(chunk);
      if (counter) counter.bytes += chunk.length;
      callback(null, chunk);
    },
  });
}

/** The layer blob `file` (gzip or plain tar) as a plain tar at `tarFile`; returns its diffID. */
export async function unpackBlob(file: string, tarFile: string): Promise<string> {
  const compression = await blobCompression(file);
  // Node 20 has no zstd decoder: such a layer is left as it is.
  if (compression === 'zstd') throw new UnsupportedTarError('zstd layers are not supported');
  const hash = createHash('sha256');
  if (compression === 'gzip') await pipeline(createReadStream(file), createGunzip(), hashingStream(hash), createWriteStream(tarFile));
  else await pipeline(createReadStream(file), hashingStream(hash), createWriteStream(tarFile));
  return `sha256:${hash.digest('hex')}`;
}

async function hashEntries(handle: FileHandle, entries: TarEntry[]): Promise<string[]> {
  const buf = Buffer.alloc(1 << 20);
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.type !== 'file') {
      out.push('');
      continue;
    }
    const hash = createHash('sha256');
    for (let done = 0; done < entry.size;) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, entry.size - done), entry.dataOffset + done);
      if (bytesRead === 0) throw new UnsupportedTarError('tar stream ends inside an entry');
      hash.update(buf.subarray(0, bytesRead));
      done += bytesRead;
    }
    out.push(hash.digest('hex'));
  }
  return out;
}

/** The canonical tar's bytes, in chunks of one size (so the compressor sees the same calls every time). */
async function* canonicalTar(handle: FileHandle, entries: TarEntry[]): AsyncGenerator<Buffer> {
  const CHUNK = 1 << 20;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  function* push(data: Buffer): Generator<Buffer> {
    pending.push(data);
    pendingBytes += data.length;
    while (pendingBytes >= CHUNK) {
      const all = Buffer.concat(pending);
      yield all.subarray(0, CHUNK);
      pending = [all.subarray(CHUNK)];
      pendingBytes = pending[0].length;
    }
  }
  for (const entry of entries) {
    yield* push(encodeHeader(entry));
    if (entry.type !== 'file' || entry.size === 0) continue;
    for (let done = 0; done < entry.size;) {
      const buf = Buffer.alloc(Math.min(CHUNK, entry.size - done));
      const { bytesRead } = await handle.read(buf, 0, buf.length, entry.dataOffset + done);
      if (bytesRead === 0) throw new UnsupportedTarError('tar stream ends inside an entry');
      yield* push(buf.subarray(0, bytesRead));
      done += bytesRead;
    }
    yield* push(dataPadding(entry.size));
  }
  yield* push(END_OF_ARCHIVE);
  if (pendingBytes > 0) yield Buffer.concat(pending);
}

/** The canonical layer's compression: gzip, level 6, no name and no time in the header. */
export const CANONICAL_GZIP_LEVEL = 6;
export const CANONICAL_MEDIA_TYPE = OCI_LAYER_GZIP;

export interface CanonicalResult {
  /** diffID of the input layer. */
  inputDiffId: string;
  /** Entries left out. */
  dropped: number;
  /** When written: the canonical layer's diffID, and its compressed blob's digest and size. */
  written?: { diffId: string; digest: string; size: number };
}

/**
 * Reads the layer blob `input` (gzip or tar) on top of `lower`, applies it to `lower`, and, when
 * `output` is given, writes its canonical form there, gzip-compressed.
 */
export async function canonicalizeLayer(input: string, lower: LowerFilesystem, options: { epoch: number | undefined; scratchTar: string; output?: string }): Promise<CanonicalResult> {
  const inputDiffId = await unpackBlob(input, options.scratchTar);
  const handle = await open(options.scratchTar, 'r');
  try {
    const entries = await readTarEntries(handle);
    const plan = planLayer(entries, await hashEntries(handle, entries), lower, options.epoch);
    if (!options.output) return { inputDiffId, dropped: plan.dropped };
    const uncompressed = createHash('sha256');
    const compressed = createHash('sha256');
    const counter = { bytes: 0 };
    await pipeline(
      Readable.from(canonicalTar(handle, plan.entries)),
      hashingStream(uncompressed),
      createGzip({ level: CANONICAL_GZIP_LEVEL }),
      hashingStream(compressed, counter),
      createWriteStream(options.output),
    );
    return {
      inputDiffId,
      dropped: plan.dropped,
      written: { diffId: `sha256:${uncompressed.digest('hex')}`, digest: `sha256:${compressed.digest('hex')}`, size: counter.bytes },
    };
  } finally {
    await handle.close();
    await rm(options.scratchTar, { force: true });
  }
}

/** For tests: the entries of a canonical layer blob, as the reader sees them. */
export async function listLayer(file: string, scratchTar: string): Promise<TarEntry[]> {
  await unpackBlob(file, scratchTar);
  const handle = await open(scratchTar, 'r');
  try {
    return await readTarEntries(handle);
  } finally {
    await handle.close();
    await rm(scratchTar, { force: true });
  }
}
