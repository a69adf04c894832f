import { digestOf, isDigest, parseDigest, sha256Digest } from './digest';
import { ManifestSyntaxError, parseManifest } from './image-graph';
import { isManifestMediaType } from './media-types';
import type { ManifestGetResult } from './types';

/** OCI distribution spec: registries SHOULD accept manifests up to 4 MiB; more is refused. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A manifest answer that cannot be trusted; the message says why. */
export class ManifestAnswerError extends Error {}

/**
 * What a registry answered to `GET manifest <ref>` (a body already read within
 * MAX_MANIFEST_BYTES), checked before anything uses it: the bytes are a manifest; by digest they
 * hash to that digest (with its own algorithm: a sha512 reference is checked too, never
 * trusted), by tag sha256 names them; a Docker-Content-Digest, when sent, is well formed and
 * names these bytes; the media type comes from Content-Type, else from the body. Shared by the
 * registry client and the scan fingerprint's plain GET, so both trust the same answers.
 */
export function checkManifestAnswer(ref: string, body: Buffer, headers: { contentType?: string; digest?: string }): ManifestGetResult {
  let bodyType: string | undefined;
  try {
    bodyType = parseManifest(body).mediaType;
  } catch (error) {
    if (error instanceof ManifestSyntaxError) throw new ManifestAnswerError(error.message);
    throw error;
  }
  const digest = isDigest(ref) ? digestOf(parseDigest(ref).algorithm, body) : sha256Digest(body);
  if (isDigest(ref) && ref !== digest) throw new ManifestAnswerError(`the manifest hashes to ${digest}`);
  const answered = headers.digest;
  if (answered !== undefined && !isDigest(answered)) throw new ManifestAnswerError(`malformed Docker-Content-Digest "${answered}"`);
  if (answered && answered !== digestOf(parseDigest(answered).algorithm, body)) {
    throw new ManifestAnswerError(`Docker-Content-Digest ${answered} does not match the bytes (${digest})`);
  }
  const contentType = (headers.contentType ?? '').split(';')[0].trim();
  const mediaType = isManifestMediaType(contentType) ? contentType : bodyType ?? contentType;
  if (!mediaType) throw new ManifestAnswerError('no media type in Content-Type or body');
  return { mediaType, digest, body };
}
