import fc from 'fast-check';
import { isAbsolute, join, relative, sep } from 'node:path';
import { AurenError } from '../errors/errors';
import {
  digestOf,
  fallbackTag,
  isDigest,
  isPinnedReference,
  parseDigest,
  pinnedDigest,
  sha256Digest,
  stripDigest,
  subjectOfAttachedTag,
  subjectOfFallbackTag,
} from './digest';
import { layoutBlobPath } from './layout';
import { isValidTag } from './tag-grammar';

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

/** Tags shaped like fallback tags, and near misses: other algorithms, lengths, case, suffixes, separators. */
const tagLike = fc.oneof(
  fc.string(),
  validDigest.map((digest) => digest.replace(':', '-')),
  fc.tuple(
    fc.constantFrom('sha256', 'sha512', 'SHA256', 'sha384', 'md5', ''),
    fc.constantFrom('-', ':', '_', '--'),
    fc.oneof(hex(64), hex(63), hex(65), hex(128), hex(64).map((h) => h.toUpperCase()), fc.string()),
    fc.constantFrom('', '.sig', '.att', '.sbom', '.sig.sig', '.SIG', '.txt', '/..', '\n'),
  ).map(([algorithm, separator, body, suffix]) => `${algorithm}${separator}${body}${suffix}`),
);

describe('the referrers fallback tag', () => {
  it('is a valid tag for every digest, and gives back the sha256 subject it was made from', () => {
    fc.assert(
      fc.property(validDigest, (digest) => {
        const tag = fallbackTag(digest);
        expect(isValidTag(tag)).toBe(true);
        const { algorithm, hex: digestHex } = parseDigest(digest);
        // The distribution spec's truncation: the algorithm, "-", the first 64 hex characters.
        expect(tag).toBe(`${algorithm}-${digestHex.slice(0, 64)}`);
        if (algorithm === 'sha256') {
          expect(subjectOfFallbackTag(tag)).toBe(digest);
          for (const suffix of ['', '.sig', '.att', '.sbom']) expect(subjectOfAttachedTag(`${tag}${suffix}`)).toBe(digest);
          expect(subjectOfFallbackTag(`${tag}.sig`)).toBeUndefined();
        } else {
          // Half the hex is gone: no subject is read back from a sha512 tag.
          expect(subjectOfFallbackTag(tag)).toBeUndefined();
          expect(subjectOfAttachedTag(tag)).toBeUndefined();
        }
      }),
    );
  });

  it('reads a subject only from the exact tag of a sha256 digest, with cosign suffixes only where allowed', () => {
    fc.assert(
      fc.property(tagLike, (tag) => {
        const subject = subjectOfFallbackTag(tag);
        if (subject !== undefined) {
          expect(isDigest(subject, 'sha256')).toBe(true);
          expect(fallbackTag(subject)).toBe(tag);
        }
        const attached = subjectOfAttachedTag(tag);
        if (attached !== undefined) {
          expect(isDigest(attached, 'sha256')).toBe(true);
          expect(['', '.sig', '.att', '.sbom'].map((suffix) => `${fallbackTag(attached)}${suffix}`)).toContain(tag);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses to make a tag from anything but a digest', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        if (isDigest(value)) return;
        expect(() => fallbackTag(value)).toThrow(AurenError);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('pinned references', () => {
  const name = fc.constantFrom('app', 'registry.example:5000/team/app', 'localhost/app:v1.2.3', 'app:sha256-abc');

  it('finds and strips a trailing digest, and only a digest in the one grammar', () => {
    fc.assert(
      fc.property(name, fc.oneof(validDigest, hostile).filter((value) => !value.includes('@')), (image, value) => {
        const reference = `${image}@${value}`;
        expect(isPinnedReference(reference)).toBe(isDigest(value));
        expect(pinnedDigest(reference)).toBe(isDigest(value) ? value : undefined);
        expect(stripDigest(reference)).toBe(isDigest(value) ? image : reference);
        expect(isPinnedReference(image)).toBe(false);
        expect(stripDigest(image)).toBe(image);
      }),
      { numRuns: 2000 },
    );
  });
});
