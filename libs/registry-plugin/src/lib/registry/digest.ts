import { createHash } from 'node:crypto';
import { AurenError } from '../errors/errors';

/**
 * OCI image spec "Digests", narrowed to the one grammar this plugin accepts from anywhere
 * (registries, layouts, references, headers): `sha256:<64 hex>` or `sha512:<128 hex>`, lower
 * case. Digests become file names (`blobs/<alg>/<hex>`) and URL path segments, so anything else
 * is refused before a path or URL is built from it; a digest we cannot verify is not a digest.
 */
export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lower-case hex, exactly 64 (sha256) or 128 (sha512) characters. */
  hex: string;
}

const STRICT = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: unknown): boolean {
  return typeof value === 'string' && STRICT.test(value);
}

/** The digest's parts, or an `input` error naming what was wrong with it. */
export function parseDigest(value: unknown, where = 'digest'): ParsedDigest {
  if (!isDigest(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 160)) : `(a ${value === null ? 'null' : typeof value})`;
    throw new AurenError('input', `invalid digest ${shown} in ${where}`, 'A digest is sha256:<64 lower-case hex characters> (or sha512:<128>).');
  }
  const [algorithm, hex] = (value as string).split(':') as [DigestAlgorithm, string];
  return { algorithm, hex };
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The digest of `data` with `algorithm`, in the same `alg:hex` form. */
export function digestOf(algorithm: DigestAlgorithm, data: Buffer | string): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}
