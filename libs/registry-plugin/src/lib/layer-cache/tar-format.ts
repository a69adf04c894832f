import type { FileHandle } from 'node:fs/promises';

/**
 * The tar format as layer changesets use it: a reader that lists the entries of an uncompressed
 * layer on disk (with where each one's data starts, so entries can be written out in another
 * order), and a writer of one canonical header per entry.
 *
 * Read: POSIX ustar, PAX (`x`, `g`), GNU long names (`L`, `K`), base-256 numbers. Anything else
 * (GNU sparse files, multi-volume) is refused: the caller then leaves the layer as it is.
 *
 * Written: ustar headers with PAX records only where a field does not fit (long or non-ASCII
 * names, large numbers) or carries what ustar cannot (extended attributes). No user or group
 * names, no access or change times: they describe the machine that made the layer, and no
 * extractor of OCI layers reads them (ownership is numeric).
 */
export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** Path without a leading `./` or `/` and without a trailing `/`. */
  path: string;
  type: EntryType;
  /** Permission bits with setuid, setgid and sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Data size; 0 for everything but regular files. */
  size: number;
  /** Seconds since the epoch (sub-second precision is dropped). */
  mtime: number;
  /** Symlink target as written; hardlink target as a normalised path. Empty for other types. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** PAX records that are not header fields (extended attributes, mostly), by key. */
  records: Map<string, Buffer>;
  /** Offset of the entry's data in the tar file. */
  dataOffset: number;
}

export class UnsupportedTarError extends Error {}

const BLOCK = 512;
/** PAX keys that stand for header fields or times: read into the entry, never carried over. */
const FIELD_KEYS = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime', 'atime', 'ctime', 'charset', 'hdrcharset', 'comment']);
const TYPES: Record<string, EntryType> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };
const FLAGS: Record<EntryType, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };
/** Sanity bounds: a layer is outside input. */
const MAX_EXTENDED_HEADER = 1 << 20;

/** `./a/b/`, `/a/b` → `a/b`; `.` and `./` → `` (the root). */
export function normalizePath(name: string): string {
  let path = name;
  while (path.startsWith('./')) path = path.slice(2);
  path = path.replace(/^\/+/, '').replace(/\/+$/, '');
  return path === '.' ? '' : path;
}

function cString(buf: Buffer, start: number, length: number): Buffer {
  const field = buf.subarray(start, start + length);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

function parseNumber(buf: Buffer, start: number, length: number): number {
  const field = buf.subarray(start, start + length);
  if (field[0] & 0x80) {
    // Base-256 (GNU): big-endian, the top bit of the first byte marks it.
    if (field[0] === 0xff) throw new UnsupportedTarError('negative number in a tar header');
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
    if (!Number.isSafeInteger(value)) throw new UnsupportedTarError('number too large in a tar header');
    return value;
  }
  const text = cString(buf, start, length).toString('latin1').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new UnsupportedTarError(`invalid octal number "${text}" in a tar header`);
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : header[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  const stored = parseNumber(header, 148, 8);
  return stored === unsigned || stored === signed;
}

function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) throw new UnsupportedTarError('malformed PAX record');
    const length = Number(data.subarray(pos, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= space - pos || pos + length > data.length || data[pos + length - 1] !== 0x0a) {
      throw new UnsupportedTarError('malformed PAX record');
    }
    const record = data.subarray(space + 1, pos + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq === -1) throw new UnsupportedTarError('malformed PAX record');
    records.set(record.subarray(0, eq).toString('utf8'), Buffer.from(record.subarray(eq + 1)));
    pos += length;
  }
  return records;
}

async function readExactly(file: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buf, done, length - done, offset + done);
    if (bytesRead === 0) throw new UnsupportedTarError('tar stream ends inside an entry');
    done += bytesRead;
  }
  return buf;
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

/** Every entry of the uncompressed tar in `file`, in stream order. */
export async function readTarEntries(file: FileHandle): Promise<TarEntry[]> {
  const { size: fileSize } = await file.stat();
  const entries: TarEntry[] = [];
  const global = new Map<string, Buffer>();
  let local = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let pos = 0;
  while (pos + BLOCK <= fileSize) {
    const header = await readExactly(file, pos, BLOCK);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw new UnsupportedTarError(`bad tar header checksum at offset ${pos}`);
    const flag = String.fromCharCode(header[156]);
    const size = parseNumber(header, 124, 12);
    const dataOffset = pos + BLOCK;
    if (dataOffset + size > fileSize) throw new UnsupportedTarError('tar stream ends inside an entry');
    pos = dataOffset + padded(size);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_EXTENDED_HEADER) throw new UnsupportedTarError('extended tar header too large');
      const data = await readExactly(file, dataOffset, size);
      if (flag === 'x') local = parsePax(data);
      else if (flag === 'g') for (const [k, v] of parsePax(data)) global.set(k, v);
      else if (flag === 'L') longName = cString(data, 0, data.length).toString('utf8');
      else longLink = cString(data, 0, data.length).toString('utf8');
      continue;
    }
    const type = TYPES[flag];
    if (!type) throw new UnsupportedTarError(`tar entry type "${flag}" is not supported`);
    const records = new Map([...global, ...local]);
    local = new Map();
    for (const key of records.keys()) if (key.startsWith('GNU.sparse.')) throw new UnsupportedTarError('sparse files are not supported');
    const magic = header.subarray(257, 263).toString('latin1');
    const ustarPrefix = magic === 'ustar\0' ? cString(header, 345, 155).toString('utf8') : '';
    let name = cString(header, 0, 100).toString('utf8');
    if (ustarPrefix) name = `${ustarPrefix}/${name}`;
    let linkname = cString(header, 157, 100).toString('utf8');
    if (longName !== undefined) name = longName;
    if (longLink !== undefined) linkname = longLink;
    longName = longLink = undefined;
    const text = (key: string) => records.get(key)?.toString('utf8');
    const num = (key: string, fallback: number) => {
      const value = text(key);
      if (value === undefined) return fallback;
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new UnsupportedTarError(`invalid PAX ${key} "${value}"`);
      return Math.floor(n);
    };
    name = text('path') ?? name;
    linkname = text('linkpath') ?? linkname;
    const entrySize = num('size', size);
    if (entrySize !== size) throw new UnsupportedTarError('PAX size differs from the stored data');
    for (const key of [...records.keys()]) if (FIELD_KEYS.has(key)) records.delete(key);
    entries.push({
      path: normalizePath(name),
      type,
      mode: parseNumber(header, 100, 8) & 0o7777,
      uid: num('uid', parseNumber(header, 108, 8)),
      gid: num('gid', parseNumber(header, 116, 8)),
      size: type === 'file' ? size : 0,
      mtime: num('mtime', parseNumber(header, 136, 12)),
      linkname: type === 'hardlink' ? normalizePath(linkname) : type === 'symlink' ? linkname : '',
      devmajor: type === 'char' || type === 'block' ? parseNumber(header, 329, 8) : 0,
      devminor: type === 'char' || type === 'block' ? parseNumber(header, 337, 8) : 0,
      records,
      dataOffset,
    });
  }
  return entries;
}

const OCTAL_MAX = (digits: number) => 8 ** digits - 1;

function writeString(block: Buffer, start: number, length: number, value: string): void {
  block.write(value, start, length, 'latin1');
}
function writeOctal(block: Buffer, start: number, length: number, value: number): void {
  // As Go's archive/tar writes them: zero-padded, NUL-terminated.
  writeString(block, start, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}
const isAscii = (s: string) => /^[\x01-\x7f]*$/.test(s);

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  // The length counts its own digits.
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function ustarHeader(name: string, flag: string, fields: { mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; devmajor: number; devminor: number }): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, fields.uid);
  writeOctal(block, 116, 8, fields.gid);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  writeString(block, 156, 1, flag);
  writeString(block, 157, 100, fields.linkname);
  writeString(block, 257, 8, 'ustar\u000000');
  writeOctal(block, 329, 8, fields.devmajor);
  writeOctal(block, 337, 8, fields.devminor);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

/**
 * The header block(s) of an entry, written one way only: the same entry always gives the same
 * bytes, whatever wrote the tar it came from.
 */
export function encodeHeader(entry: Omit<TarEntry, 'dataOffset'>): Buffer {
  const name = entry.type === 'dir' && entry.path ? `${entry.path}/` : entry.path || './';
  const records = new Map(entry.records);
  const fit = (key: string, value: string, length: number) => {
    if (isAscii(value) && Buffer.byteLength(value) <= length) return value;
    records.set(key, Buffer.from(value, 'utf8'));
    return value.replace(/[^\x01-\x7f]/g, '').slice(0, length);
  };
  const number = (key: string, value: number, digits: number) => {
    if (value <= OCTAL_MAX(digits)) return value;
    records.set(key, Buffer.from(String(value)));
    return 0;
  };
  const fields = {
    mode: entry.mode & 0o7777,
    uid: number('uid', entry.uid, 7),
    gid: number('gid', entry.gid, 7),
    size: number('size', entry.size, 11),
    mtime: number('mtime', entry.mtime, 11),
    linkname: fit('linkpath', entry.linkname, 100),
    devmajor: entry.devmajor <= OCTAL_MAX(7) ? entry.devmajor : 0,
    devminor: entry.devminor <= OCTAL_MAX(7) ? entry.devminor : 0,
  };
  if (fields.devmajor !== entry.devmajor || fields.devminor !== entry.devminor) throw new UnsupportedTarError('device number too large');
  const shortName = fit('path', name, 100);
  const main = ustarHeader(shortName, FLAGS[entry.type], fields);
  if (records.size === 0) return main;
  const keys = [...records.keys()].sort();
  const pax = Buffer.concat(keys.map((key) => paxRecord(key, records.get(key) as Buffer)));
  const paxHeader = ustarHeader('././@PaxHeader', 'x', { mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: 0, linkname: '', devmajor: 0, devminor: 0 });
  return Buffer.concat([paxHeader, pax, Buffer.alloc(padded(pax.length) - pax.length), main]);
}

/** Zero padding after `size` bytes of data, and the end-of-archive marker. */
export const dataPadding = (size: number): Buffer => Buffer.alloc(padded(size) - size);
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
