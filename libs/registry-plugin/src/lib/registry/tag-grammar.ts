import { inputError } from '../errors/errors';

/**
 * OCI distribution spec, "Pulling manifests": a tag is `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
 * It lives in the registry layer because the protocol defines it; `tags/` re-exports it.
 */
export const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_TAG_LENGTH = 128;

export function isValidTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

export function validateTag(tag: string): string {
  if (isValidTag(tag)) return tag;
  throw inputError(`invalid image tag "${tag}"`, 'A tag is 1–128 characters from [A-Za-z0-9_.-] and must not start with "." or "-".');
}
