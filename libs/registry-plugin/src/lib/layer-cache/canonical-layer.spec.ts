/**
 * The canonical form of a layer (canonical-layer.ts): what it drops, what it must keep, and that
 * a diff taken the overlay way and the same diff taken the vfs ("naive") way come out as the
 * same bytes. Layers are real tars (tar-stream), read back by the module's own reader.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as tar from 'tar-stream';
import { canonicalizeLayer, listLayer, LowerFilesystem } from './canonical-layer';

interface E {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  mode?: number;
  uid?: number;
  content?: string;
  linkname?: string;
  mtime?: number;
}

async function tarOf(entries: E[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: 0, linkname: e.linkname, mtime: new Date((e.mtime ?? 0) * 1000) },
        type === 'file' ? e.content ?? '' : undefined,
        (error?: Error | null) => (error ? reject(error) : resolve()),
      );
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

let work: string;
let n = 0;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'auren-canonical-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const file = async (data: Buffer) => {
  const path = join(work, `in-${n++}.tar`);
  await writeFile(path, data);
  return path;
};

/** Canonicalises `upper` on top of `lowers`; returns its entries and its canonical diffID. */
async function canonical(lowers: E[][], upper: E[], epoch: number | undefined = 0) {
  const lower = new LowerFilesystem();
  for (const layer of lowers) await canonicalizeLayer(await file(await tarOf(layer)), lower, { epoch, scratchTar: join(work, `s-${n++}.tar`) });
  const output = join(work, `out-${n++}.tar.gz`);
  const result = await canonicalizeLayer(await file(await tarOf(upper)), lower, { epoch, scratchTar: join(work, `s-${n++}.tar`), output });
  const entries = await listLayer(output, join(work, `s-${n++}.tar`));
  return { result, paths: entries.map((e) => e.path), entries, output };
}

const BASE: E[] = [
  { name: 'etc/', type: 'directory' },
  { name: 'etc/.pwd.lock', mode: 0o600 },
  { name: 'etc/passwd', content: 'root:x:0:0\n' },
  { name: 'run/', type: 'directory' },
  { name: 'tmp/', type: 'directory', mode: 0o1777 },
  { name: 'var/', type: 'directory' },
  { name: 'var/lib/', type: 'directory' },
  { name: 'var/lib/dpkg/', type: 'directory' },
  { name: 'var/lib/dpkg/lock-frontend', mode: 0o640 },
  { name: 'var/lib/dpkg/status', content: 'Package: libc6\n' },
  { name: 'var/log/', type: 'directory' },
  { name: 'var/log/apt/', type: 'directory' },
  { name: 'var/log/apt/history.log', content: 'log\n' },
  { name: 'opt/', type: 'directory' },
  { name: 'opt/a/', type: 'directory' },
  { name: 'opt/a/x', content: 'x\n' },
  { name: 'usr/', type: 'directory' },
  { name: 'usr/bin/', type: 'directory' },
  { name: 'usr/bin/python3', content: 'elf' },
];

describe('canonical layers', () => {
  it('drops what only overlay records: directories and files opened but unchanged', async () => {
    const { paths, result } = await canonical([BASE], [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.pwd.lock', mode: 0o600 },
      { name: 'etc/passwd', content: 'root:x:0:0\nbridge:x:10001:10001\n' },
      { name: 'run/', type: 'directory' },
      { name: 'tmp/', type: 'directory', mode: 0o1777 },
      { name: 'var/', type: 'directory' },
      { name: 'var/lib/', type: 'directory' },
      { name: 'var/lib/dpkg/', type: 'directory' },
      { name: 'var/lib/dpkg/lock-frontend', mode: 0o640 },
    ]);
    // etc stays: something under it changed (extraction must not make it with default permissions).
    expect(paths).toEqual(['etc', 'etc/passwd']);
    expect(result.dropped).toBe(7);
  });

  it('keeps a directory whose permissions or owner changed, a file whose mode or content changed, and new entries', async () => {
    const { paths } = await canonical([BASE], [
      { name: 'run/', type: 'directory', mode: 0o700 },
      { name: 'tmp/', type: 'directory', mode: 0o1777, uid: 10001 },
      { name: 'usr/', type: 'directory' },
      { name: 'usr/bin/', type: 'directory' },
      { name: 'usr/bin/python3', content: 'elf', mode: 0o755 },
      { name: 'opt/', type: 'directory' },
      { name: 'opt/a/', type: 'directory' },
      { name: 'opt/a/x', content: 'y\n' },
      { name: 'opt/new/', type: 'directory' },
    ]);
    expect(paths).toEqual(['opt', 'opt/a', 'opt/a/x', 'opt/new', 'run', 'tmp', 'usr', 'usr/bin', 'usr/bin/python3']);
  });

  it('keeps whiteouts (written one way), hard links and their targets', async () => {
    const { paths, entries } = await canonical([BASE], [
      { name: 'var/', type: 'directory' },
      { name: 'var/log/', type: 'directory' },
      // Overlay's whiteouts are links of one device: the tar writer leaves the first's path behind.
      { name: 'var/log/.wh.apt', linkname: 'var/lib/apt/lists/partial', mtime: 77 },
      { name: 'usr/', type: 'directory' },
      { name: 'usr/bin/', type: 'directory' },
      // Unchanged, but a hard link of this layer points at it.
      { name: 'usr/bin/python3', content: 'elf' },
      { name: 'usr/bin/python3.11', type: 'link', linkname: 'usr/bin/python3' },
    ]);
    expect(paths).toEqual(['usr', 'usr/bin', 'usr/bin/python3', 'usr/bin/python3.11', 'var', 'var/log', 'var/log/.wh.apt']);
    expect(entries.find((e) => e.path === 'var/log/.wh.apt')).toMatchObject({ type: 'file', linkname: '', mode: 0, mtime: 0, size: 0 });
    expect(entries.find((e) => e.path === 'usr/bin/python3.11')).toMatchObject({ type: 'hardlink', linkname: 'usr/bin/python3' });
  });

  it('writes an opaque directory as the whiteouts the naive diff writes for the same change', async () => {
    const lower: E[] = [
      { name: 'srv/', type: 'directory' },
      { name: 'srv/keep', content: 'same\n' },
      { name: 'srv/edit', content: 'old\n' },
      { name: 'srv/gone', content: 'x\n' },
      { name: 'srv/sub/', type: 'directory' },
      { name: 'srv/sub/old', content: 'x\n' },
      { name: 'srv/sub/kept', content: 'x\n' },
      { name: 'srv/tree/', type: 'directory' },
      { name: 'srv/tree/leaf', content: 'x\n' },
    ];
    // `rm -rf /srv && mkdir -p /srv/sub && …`: overlay records srv as opaque, with what was made again.
    const overlay: E[] = [
      { name: 'srv/', type: 'directory' },
      { name: 'srv/.wh..wh..opq' },
      { name: 'srv/edit', content: 'new\n' },
      { name: 'srv/keep', content: 'same\n' },
      { name: 'srv/sub/', type: 'directory' },
      { name: 'srv/sub/kept', content: 'x\n' },
    ];
    // The naive diff of the same change: what differs, whiteouts for what is gone, their parents.
    const naive: E[] = [
      { name: 'srv/', type: 'directory' },
      { name: 'srv/edit', content: 'new\n' },
      { name: 'srv/.wh.gone' },
      { name: 'srv/sub/', type: 'directory' },
      { name: 'srv/sub/.wh.old' },
      { name: 'srv/.wh.tree' },
    ];
    const a = await canonical([lower], overlay);
    const b = await canonical([lower], naive);
    expect(a.paths).toEqual(['srv', 'srv/.wh.gone', 'srv/.wh.tree', 'srv/edit', 'srv/sub', 'srv/sub/.wh.old']);
    expect(b.result.written).toEqual(a.result.written);
  });

  it('makes the first path of a hard-link group, in path order, the file', async () => {
    // Walk order met `b/x` first; in path order `a.d/y` comes first.
    const { entries } = await canonical([[]], [
      { name: 'b/', type: 'directory' },
      { name: 'b/x', content: 'shared\n' },
      { name: 'a.d/', type: 'directory' },
      { name: 'a.d/y', type: 'link', linkname: 'b/x' },
    ]);
    expect(entries.map((e) => [e.path, e.type, e.linkname, e.size])).toEqual([
      ['a.d', 'dir', '', 0], ['a.d/y', 'file', '', 7], ['b', 'dir', '', 0], ['b/x', 'hardlink', 'a.d/y', 0],
    ]);
  });

  it('compares times only where they say something: never for directories, not when stamped with the build epoch', async () => {
    const lowers = [BASE.map((e) => ({ ...e, mtime: 1000 }))];
    const touched = [{ name: 'opt/', type: 'directory' as const, mtime: 5 }, { name: 'opt/a/', type: 'directory' as const, mtime: 5 }, { name: 'opt/a/x', content: 'x\n', mtime: 5 }];
    // Built with --timestamp 5: every entry says 5, so 5 is no evidence of a change.
    expect((await canonical(lowers, touched, 5)).paths).toEqual([]);
    // Built without a fixed epoch: the file's time changed, so it stays (and its directories).
    expect((await canonical(lowers, touched, undefined)).paths).toEqual(['opt', 'opt/a', 'opt/a/x']);
  });

  it('is idempotent: a canonical layer comes out byte for byte the same', async () => {
    const first = await canonical([BASE], [{ name: 'etc/', type: 'directory' }, { name: 'etc/passwd', content: 'changed\n' }, { name: 'run/', type: 'directory' }]);
    const lower = new LowerFilesystem();
    await canonicalizeLayer(await file(await tarOf(BASE)), lower, { epoch: 0, scratchTar: join(work, 's-idem.tar') });
    const again = await canonicalizeLayer(first.output, lower, { epoch: 0, scratchTar: join(work, 's-idem2.tar'), output: join(work, 'idem.tar.gz') });
    expect(again.written).toEqual(first.result.written);
    expect(again.dropped).toBe(0);
  });
});

/**
 * One change to a random lower filesystem, written as each driver writes it:
 * - overlay: the upper directory in walk order: changed and new entries, unchanged files a step
 *   opened for writing (copied up), every directory above them, whiteouts with a stray link name;
 * - vfs: what differs plus the directories above it, sorted by path.
 */
describe('overlay and vfs diffs of the same change (property)', () => {
  const name = fc.constantFrom('a', 'b', 'a.b', 'a-b', 'c', 'lib', 'lib64', 'x');
  const pathArb = fc.array(name, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
  const scenario = fc.record({
    files: fc.uniqueArray(fc.record({ path: pathArb, content: fc.constantFrom('', 'one\n', 'two\n'), mode: fc.constantFrom(0o644, 0o600, 0o755) }), { selector: (f) => f.path, minLength: 1, maxLength: 12 }),
    ops: fc.array(fc.record({ kind: fc.constantFrom('touch', 'write', 'chmod', 'delete', 'add', 'chmod-dir'), pick: fc.nat(), content: fc.constantFrom('one\n', 'three\n') }), { maxLength: 8 }),
  });

  it('canonicalises both to the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ files, ops }) => {
        // The lower filesystem: directories implied by the files; a path is a file or a directory, not both.
        const fileMap = new Map<string, { content: string; mode: number }>();
        const dirs = new Map<string, number>();
        for (const f of files) {
          const parts = f.path.split('/');
          const ancestors = parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
          if (ancestors.some((a) => fileMap.has(a)) || dirs.has(f.path)) continue;
          fileMap.set(f.path, { content: f.content, mode: f.mode });
          for (const a of ancestors) dirs.set(a, 0o755);
        }
        const lowerLayer: E[] = [...[...dirs].map(([p, mode]) => ({ name: `${p}/`, type: 'directory' as const, mode })), ...[...fileMap].map(([p, f]) => ({ name: p, content: f.content, mode: f.mode }))];

        const paths = [...fileMap.keys()];
        const dirPaths = [...dirs.keys()];
        const upperFiles = new Map<string, { content: string; mode: number; changed: boolean }>();
        const upperDirs = new Map<string, { mode: number; changed: boolean }>();
        const deleted = new Set<string>();
        for (const op of ops) {
          if (op.kind === 'chmod-dir') {
            if (!dirPaths.length) continue;
            const d = dirPaths[op.pick % dirPaths.length];
            upperDirs.set(d, { mode: 0o700, changed: true });
            continue;
          }
          if (op.kind === 'add') {
            const parent = dirPaths.length ? dirPaths[op.pick % dirPaths.length] : '';
            const p = parent ? `${parent}/new${op.pick % 3}` : `new${op.pick % 3}`;
            if (fileMap.has(p) || dirs.has(p) || deleted.has(p)) continue;
            upperFiles.set(p, { content: op.content, mode: 0o644, changed: true });
            continue;
          }
          const live = paths.filter((p) => !deleted.has(p));
          if (!live.length) continue;
          const p = live[op.pick % live.length];
          const lowerFile = fileMap.get(p) as { content: string; mode: number };
          const current = upperFiles.get(p) ?? { ...lowerFile, changed: false };
          if (op.kind === 'delete') {
            upperFiles.delete(p);
            deleted.add(p);
          } else if (op.kind === 'touch') upperFiles.set(p, current);
          else if (op.kind === 'write') upperFiles.set(p, { ...current, content: op.content, changed: current.changed || op.content !== lowerFile.content });
          else upperFiles.set(p, { ...current, mode: 0o600, changed: current.changed || lowerFile.mode !== 0o600 });
        }
        const parentsOf = (p: string) => {
          const parts = p.split('/');
          return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
        };
        const dirEntry = (d: string): E => ({ name: `${d}/`, type: 'directory', mode: upperDirs.get(d)?.mode ?? dirs.get(d) ?? 0o755 });
        const whiteout = (p: string): E => {
          const slash = p.lastIndexOf('/');
          return { name: slash === -1 ? `.wh.${p}` : `${p.slice(0, slash)}/.wh.${p.slice(slash + 1)}`, mode: 0 };
        };

        // overlay: everything in the upper directory, walk order (component by component).
        const overlayPaths = new Map<string, E>();
        for (const [p, f] of upperFiles) overlayPaths.set(p, { name: p, content: f.content, mode: f.mode });
        for (const p of deleted) overlayPaths.set(whiteout(p).name, { ...whiteout(p), linkname: 'stray/first/whiteout' });
        for (const d of upperDirs.keys()) overlayPaths.set(`${d}/`, dirEntry(d));
        for (const key of [...overlayPaths.keys()]) for (const a of parentsOf(key.replace(/\/$/, ''))) overlayPaths.set(`${a}/`, dirEntry(a));
        const walk = (a: string, b: string) => {
          const pa = a.replace(/\/$/, '').split('/');
          const pb = b.replace(/\/$/, '').split('/');
          for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
          return pa.length - pb.length;
        };
        const overlay = [...overlayPaths.values()].sort((a, b) => walk(a.name, b.name));

        // vfs: changes only (content, mode, deletions, directory metadata), their parents, sorted.
        const naivePaths = new Map<string, E>();
        for (const [p, f] of upperFiles) if (f.changed || !fileMap.has(p)) naivePaths.set(p, { name: p, content: f.content, mode: f.mode });
        for (const p of deleted) naivePaths.set(whiteout(p).name, whiteout(p));
        for (const [d, info] of upperDirs) if (info.changed && info.mode !== dirs.get(d)) naivePaths.set(`${d}/`, dirEntry(d));
        for (const key of [...naivePaths.keys()]) for (const a of parentsOf(key.replace(/\/$/, ''))) naivePaths.set(`${a}/`, dirEntry(a));
        const naive = [...naivePaths.values()].sort((a, b) => (a.name.replace(/\/$/, '') < b.name.replace(/\/$/, '') ? -1 : 1));

        const fromOverlay = await canonical([lowerLayer], overlay);
        const fromVfs = await canonical([lowerLayer], naive);
        expect(fromOverlay.paths).toEqual(fromVfs.paths);
        expect(fromOverlay.result.written?.diffId).toBe(fromVfs.result.written?.diffId);
        expect(fromOverlay.result.written?.digest).toBe(fromVfs.result.written?.digest);
      }),
      { numRuns: 60 },
    );
  });
});
