import fc from 'fast-check';
import { isAbsolute, join, relative, sep } from 'node:path';
import { AurenError } from '../errors/errors';
import { digestOf, isDigest, parseDigest, sha256Digest } from './digest';
import { layoutBlobPath } from './layout';

/** One strict grammar for every digest that comes from outside: sha256 or sha512, exact lower-case hex. */
const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
const validDigest = fc.oneof(hex(64).map((h) => `sha256:${h}`), hex(128).map((h) => `sha512:${h}`));
/** Strings shaped like digests, plus the hostile ones: paths, other algorithms, wrong lengths, upper case. */
const hostile = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('sha256:../../../../tmp/x', 'sha256:..', 'sha256:/etc/passwd', 'sha512:a/b', 'blake3:' + 'a'.repeat(64), `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha256:${'a'.repeat(64)}\n`, `sha256:${'a'.repeat(64)}/..`),
  fc.tuple(fc.constantFrom('sha256', 'sha512', 'md5', 'SHA256', ''), fc.string()).map(([a, b]) => `${a}:${b}`),
);

describe('digest grammar', () => {
  it('accepts exactly sha256:<64 hex> and sha512:<128 hex>', () => {
    fc.assert(
      fc.property(validDigest, (digest) => {
        expect(isDigest(digest)).toBe(true);
        const parsed = parseDigest(digest);
        expect(`${parsed.algorithm}:${parsed.hex}`).toBe(digest);
      }),
    );
    expect(isDigest(sha256Digest('x'))).toBe(true);
    expect(isDigest(digestOf('sha512', 'x'))).toBe(true);
  });

  it('anything else is refused with a typed error, never a crash', () => {
    fc.assert(
      fc.property(fc.oneof(hostile, fc.anything()), (value) => {
        if (isDigest(value)) return;
        expect(() => parseDigest(value)).toThrow(AurenError);
      }),
      { numRuns: 2000 },
    );
  });

  it('a layout blob path never leaves the layout, whatever the registry names', () => {
    const dir = join('/tmp', 'layout');
    fc.assert(
      fc.property(fc.oneof(hostile, validDigest), (value) => {
        let path: string;
        try {
          path = layoutBlobPath(dir, value);
        } catch (error) {
          expect(error).toBeInstanceOf(AurenError);
          return;
        }
        const inside = relative(join(dir, 'blobs'), path);
        expect(isAbsolute(inside) || inside.startsWith('..')).toBe(false);
        expect(inside.split(sep)).toHaveLength(2);
      }),
      { numRuns: 2000 },
    );
  });
});
