import { createHash } from 'node:crypto';

/** OCI image spec "Digests": `algorithm ":" encoded`; we produce and fully check sha256 only. */
const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256_RE = /^sha256:[a-f0-9]{64}$/;
const SHA512_RE = /^sha512:[a-f0-9]{128}$/;

export function isDigest(value: string): boolean {
  if (!DIGEST_RE.test(value)) return false;
  if (value.startsWith('sha256:')) return SHA256_RE.test(value);
  if (value.startsWith('sha512:')) return SHA512_RE.test(value);
  return true;
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
