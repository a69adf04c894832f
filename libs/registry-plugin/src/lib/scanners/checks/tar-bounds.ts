import { Transform, type TransformCallback } from 'node:stream';

/**
 * The most a PAX or GNU long-name header may hold: what Go's archive/tar accepts (its
 * maxSpecialFileSize), so a layer that Trivy, buildah or containerd can read is one we can too.
 */
export const MAX_TAR_HEADER_DATA = 1024 * 1024;

/** A tar stream that breaks the format or its bounds; the layer reader names the layer. */
export class TarFormatError extends Error {
  override readonly name = 'TarFormatError';
}

const BLOCK = 512;
/** The headers whose data the tar reader keeps in memory (tar-stream reads them whole). */
const HEADER_DATA: Record<string, string> = { x: 'PAX header', g: 'PAX global header', L: 'GNU long name', N: 'GNU long name', K: 'GNU long link name' };
const USTAR = Buffer.from('ustar\0', 'latin1');
const GNU = Buffer.from('ustar ', 'latin1');
const GNU_VERSION = Buffer.from(' \0', 'latin1');

type Step =
  | { kind: 'header'; parts: Buffer[]; got: number }
  | { kind: 'data'; left: number; what: string; at: number }
  | { kind: 'header-data'; flag: string; size: number; at: number; parts: Buffer[]; got: number };

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/** A numeric field: octal digits between spaces and NULs, or base-256 (positive only). */
function parseNumber(field: Buffer): number | undefined {
  if (field[0] & 0x80) {
    if (field[0] !== 0x80) return undefined;
    let value = 0n;
    for (const byte of field.subarray(1)) value = (value << 8n) | BigInt(byte);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
  }
  // Stricter than tar-stream's parser, so that every field accepted here means to it what it
  // means here: the reader and this guard must agree on where each entry's data ends.
  const match = /^ *([0-7]*)[ \0]*$/.exec(field.toString('latin1'));
  if (!match) return undefined;
  const value = match[1] ? Number.parseInt(match[1], 8) : 0;
  return Number.isSafeInteger(value) ? value : undefined;
}

function text(buffer: Buffer, start: number, length: number): string {
  const field = buffer.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

function shown(name: string): string {
  return name.length > 200 ? `${name.slice(0, 200)}…` : name;
}

/** PAX records, `"<length> <key>=<value>\n"` each, as Go's archive/tar reads them: any flaw is an error. */
export function parsePaxRecords(data: Buffer, at: number): Map<string, string> {
  const records = new Map<string, string>();
  const malformed = () => new TarFormatError(`malformed PAX record at offset ${at}`);
  let rest = data;
  while (rest.length) {
    const space = rest.indexOf(0x20);
    const digits = space > 0 ? rest.subarray(0, space).toString('latin1') : '';
    if (!/^[1-9][0-9]{0,7}$/.test(digits)) throw malformed();
    const length = Number(digits);
    if (length > rest.length || length <= space + 1 || rest[length - 1] !== 0x0a) throw malformed();
    const record = rest.subarray(space + 1, length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) throw malformed();
    records.set(record.slice(0, eq), record.slice(eq + 1));
    rest = rest.subarray(length);
  }
  return records;
}

/**
 * Passes a tar stream through unchanged while checking its structure, ahead of tar-stream's
 * extractor: tar-stream keeps a PAX or GNU long-name header's data in memory whatever size the
 * header claims, takes a PAX `size` of any sign, and reports a cut-off stream as "Unexpected end
 * of data". Here a header's data is at most MAX_TAR_HEADER_DATA, sizes are whole non-negative
 * numbers, and a stream that ends inside a header or an entry says where; the offending header
 * never reaches the extractor.
 */
class TarBounds extends Transform {
  private offset = 0;
  private step: Step = { kind: 'header', parts: [], got: 0 };
  /** From the last PAX header, for the next entry (tar-stream replaces, never merges, local PAX). */
  private paxSize: number | undefined;
  private pendingName: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.consume(chunk);
    } catch (error) {
      return done(error as Error);
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const step = this.step;
    if (step.kind === 'header' && step.got > 0) return done(new TarFormatError(`the tar ends inside the header at offset ${this.offset - step.got}`));
    if (step.kind === 'data') return done(new TarFormatError(`the tar ends inside the data of ${step.what} (header at offset ${step.at})`));
    if (step.kind === 'header-data') return done(new TarFormatError(`the tar ends inside the data of a ${HEADER_DATA[step.flag]} (header at offset ${step.at})`));
    done();
  }

  private consume(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; ) {
      const step = this.step;
      if (step.kind === 'data') {
        const n = Math.min(step.left, chunk.length - i);
        step.left -= n;
        i += n;
        this.offset += n;
        if (step.left === 0) this.step = { kind: 'header', parts: [], got: 0 };
        continue;
      }
      const need = step.kind === 'header' ? BLOCK - step.got : step.size - step.got;
      const n = Math.min(need, chunk.length - i);
      step.parts.push(chunk.subarray(i, i + n));
      step.got += n;
      i += n;
      this.offset += n;
      if (n < need) continue;
      if (step.kind === 'header') this.header(Buffer.concat(step.parts), this.offset - BLOCK);
      else this.headerData(step.flag, Buffer.concat(step.parts), step.at);
    }
    // A header with no data is complete as soon as it is read.
    const step = this.step;
    if (step.kind === 'header-data' && step.size === 0) this.headerData(step.flag, Buffer.alloc(0), step.at);
  }

  private header(block: Buffer, at: number): void {
    this.step = { kind: 'header', parts: [], got: 0 };
    let sum = 8 * 0x20;
    for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i];
    // All zero but the checksum field: end-of-archive padding, which tar-stream skips.
    if (sum === 8 * 0x20) return;
    if (parseNumber(block.subarray(148, 156)) !== sum) throw new TarFormatError(`header at offset ${at} has a wrong checksum`);
    const ustar = block.subarray(257, 263).equals(USTAR);
    if (!ustar && !(block.subarray(257, 263).equals(GNU) && block.subarray(263, 265).equals(GNU_VERSION))) {
      throw new TarFormatError(`header at offset ${at} is neither a ustar nor a GNU tar header`);
    }
    const ownName = ustar && block[345] ? `${text(block, 345, 155)}/${text(block, 0, 100)}` : text(block, 0, 100);
    const flag = block[156] === 0 ? '0' : String.fromCharCode(block[156]);
    const name = this.pendingName ?? ownName;
    const size = parseNumber(block.subarray(124, 136));
    if (size === undefined) throw new TarFormatError(`the size field of ${shown(name)} at offset ${at} is not a size`);
    const what = HEADER_DATA[flag];
    if (what) {
      if (size > MAX_TAR_HEADER_DATA) {
        throw new TarFormatError(`${what} of ${size} bytes at offset ${at}: more than the 1 MiB a tar header may hold`);
      }
      this.step = { kind: 'header-data', flag, size, at, parts: [], got: 0 };
      return;
    }
    // tar-stream reads no data for a directory, whatever its size says (a trailing slash on a
    // plain file's own name makes it one).
    const directory = flag === '5' || (flag === '0' && ownName.endsWith('/'));
    const length = directory ? 0 : this.paxSize ?? size;
    this.paxSize = undefined;
    this.pendingName = undefined;
    if (length > 0) this.step = { kind: 'data', left: length + padding(length), what: shown(name), at };
  }

  private headerData(flag: string, data: Buffer, at: number): void {
    const pad = padding(data.length);
    this.step = pad ? { kind: 'data', left: pad, what: `a ${HEADER_DATA[flag]}`, at } : { kind: 'header', parts: [], got: 0 };
    if (flag === 'x' || flag === 'g') {
      const records = parsePaxRecords(data, at);
      const size = records.get('size');
      if (flag === 'g') {
        // tar-stream would apply it to the next entry that has a PAX header of its own.
        if (size !== undefined) throw new TarFormatError(`PAX global header at offset ${at} sets size, which only an entry's own header may`);
        return;
      }
      if (size !== undefined && !(/^[0-9]{1,16}$/.test(size) && Number.isSafeInteger(Number(size)))) {
        throw new TarFormatError(`PAX record size="${shown(size)}" at offset ${at} is not a size`);
      }
      this.paxSize = size === undefined ? undefined : Number(size);
      this.pendingName = records.get('path') ?? this.pendingName;
      return;
    }
    if (flag === 'L' || flag === 'N') this.pendingName = text(data, 0, data.length);
  }
}

export function tarBounds(): Transform {
  return new TarBounds();
}
