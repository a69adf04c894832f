import { AurenError } from '../errors/errors';
import type { Scope } from './auth/types';
import { isDigest } from './digest';
import { validateRepository } from './reference';
import { isValidTag } from './tag-grammar';

/** What every resource module checks before a request, and the token scopes it asks for. */

export const pullScope = (repo: string): Scope => `repository:${repo}:pull`;
export const pushScope = (repo: string): Scope => `repository:${repo}:pull,push`;
export const deleteScope = (repo: string): Scope => `repository:${repo}:delete`;
export const CATALOG_SCOPE: Scope = 'registry:catalog:*';

export const repoPath = (repo: string): string => `/v2/${validateRepository(repo)}`;

export function checkDigestArg(digest: string): string {
  if (!isDigest(digest)) {
    throw new AurenError('input', `invalid digest "${digest}"`, 'A digest looks like sha256:<64 lower-case hex characters>.');
  }
  return digest;
}

export function checkReferenceArg(ref: string): string {
  if (!isValidTag(ref) && !isDigest(ref)) {
    throw new AurenError(
      'input',
      `invalid manifest reference "${ref}"`,
      'Use a tag (1–128 characters from [A-Za-z0-9_.-], not starting with "." or "-") or a digest (sha256:<64 hex>).',
    );
  }
  return ref;
}
