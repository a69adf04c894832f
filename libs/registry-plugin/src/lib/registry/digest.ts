import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { AurenError } from '../errors/errors';

/**
 * OCI image spec "Digests", narrowed to the one grammar this plugin accepts from anywhere
 * (registries, layouts, references, headers, tags): `sha256:<64 hex>` or `sha512:<128 hex>`,
 * lower case. Digests become file names (`blobs/<alg>/<hex>`) and URL path segments, so anything
 * else is refused before a path or URL is built from it; a digest we cannot verify is not a
 * digest. This file holds the only digest pattern outside the specs: every other check calls it.
 */
export type DigestAlgorithm = 'sha256' | 'sha512';

declare const DIGEST_BRAND: unique symbol;
/** A string that passed the grammar below. */
export type Digest = string & { readonly [DIGEST_BRAND]: true };

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lower-case hex, exactly 64 (sha256) or 128 (sha512) characters. */
  hex: string;
  /** The whole `alg:hex`, branded. */
  digest: Digest;
}

const SHA256_HEX = '[a-f0-9]{64}';
const DIGEST = `(?:sha256:${SHA256_HEX}|sha512:[a-f0-9]{128})`;
const STRICT = new RegExp(`^${DIGEST}$`);
/** `…@<digest>` at the end of an image reference. */
const PINNED = new RegExp(`@(${DIGEST})$`);
/** The referrers fallback tag of a sha256 subject, and the same with cosign's legacy suffixes. */
const FALLBACK_TAG = new RegExp(`^sha256-(${SHA256_HEX})$`);
const ATTACHED_TAG = new RegExp(`^sha256-(${SHA256_HEX})(?:\\.(?:sig|att|sbom))?$`);

/** True for a digest in the one grammar; with `algorithm`, only for a digest of that algorithm. */
export function isDigest(value: unknown, algorithm?: DigestAlgorithm): value is Digest {
  return typeof value === 'string' && STRICT.test(value) && (algorithm === undefined || value.startsWith(`${algorithm}:`));
}

/** The digest's parts, or an `input` error naming what was wrong with it. */
export function parseDigest(value: unknown, where = 'digest'): ParsedDigest {
  if (!isDigest(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 160)) : `(a ${value === null ? 'null' : typeof value})`;
    throw new AurenError('input', `invalid digest ${shown} in ${where}`, 'A digest is sha256:<64 lower-case hex characters> (or sha512:<128>).');
  }
  const [algorithm, hex] = value.split(':') as [DigestAlgorithm, string];
  return { algorithm, hex, digest: value };
}

export function sha256Digest(data: Buffer | string): Digest {
  return digestOf('sha256', data);
}

/** The digest of `data` with `algorithm`, in the same `alg:hex` form. */
export function digestOf(algorithm: DigestAlgorithm, data: Buffer | string): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** Passes bytes through, hashing and counting them: `result()` once they have all passed. */
export function hashingStream(algorithm: DigestAlgorithm): Transform & { result(): { digest: Digest; size: number } } {
  const hash = createHash(algorithm);
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  }) as Transform & { result(): { digest: Digest; size: number } };
  stream.result = () => ({ digest: `${algorithm}:${hash.digest('hex')}` as Digest, size });
  return stream;
}

/** The digest an image reference is pinned to (`name@sha256:…`, `name:tag@sha256:…`), else undefined. */
export function pinnedDigest(reference: string): Digest | undefined {
  return PINNED.exec(reference)?.[1] as Digest | undefined;
}

/** Whether `reference` names its image by digest, not by a tag that can move. */
export function isPinnedReference(reference: string): boolean {
  return pinnedDigest(reference) !== undefined;
}

/** The reference without its trailing `@<digest>` (unchanged when it has none). */
export function stripDigest(reference: string): string {
  const digest = pinnedDigest(reference);
  return digest ? reference.slice(0, -(digest.length + 1)) : reference;
}

/**
 * The referrers fallback tag of a subject (distribution spec 1.1, "Referrers Tag Schema"): the
 * algorithm, `-`, and the hex truncated to 64 characters, so a sha512 subject still gets a tag
 * within the 128-character tag grammar. `sha256:<hex>` → `sha256-<hex>`.
 */
export function fallbackTag(subject: string): string {
  if (!isDigest(subject)) {
    throw new AurenError('input', `"${subject.slice(0, 160)}" is not a digest, so it has no referrers tag`, 'A referrers tag is made from a digest (sha256:<64 lower-case hex characters>).');
  }
  const { algorithm, hex } = parseDigest(subject);
  return `${algorithm}-${hex.slice(0, 64)}`;
}

/**
 * The subject a referrers fallback tag stands for, or undefined when the tag is not one. Only a
 * sha256 tag names its whole subject: a sha512 tag holds half the hex, so no subject is read
 * back from it.
 */
export function subjectOfFallbackTag(tag: string): Digest | undefined {
  const hex = FALLBACK_TAG.exec(tag)?.[1];
  return hex === undefined ? undefined : (`sha256:${hex}` as Digest);
}

/**
 * The subject of a tag that holds things attached to an image: the referrers fallback tag, or
 * cosign's legacy `sha256-<hex>.sig|.att|.sbom`. Undefined for any other tag.
 */
export function subjectOfAttachedTag(tag: string): Digest | undefined {
  const hex = ATTACHED_TAG.exec(tag)?.[1];
  return hex === undefined ? undefined : (`sha256:${hex}` as Digest);
}
