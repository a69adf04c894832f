import { AurenError } from '../errors/errors';
import { checkDigestArg, checkReferenceArg, deleteScope, pullScope, pushScope, repoPath } from './arguments';
import { isDigest, sha256Digest } from './digest';
import { discard } from './http/answers';
import type { Transport } from './http/transport';
import { checkManifestAnswer, ManifestAnswerError, MAX_MANIFEST_BYTES } from './manifest-answer';
import { ACCEPT_MANIFESTS } from './media-types';
import type { ManifestGetResult, ManifestHeadResult, RegistryClient, TagDeleter } from './types';

/** Manifests (distribution spec "Pulling manifests", "Pushing manifests", "Deleting manifests"). */
export type Manifests = Pick<RegistryClient, 'manifestGet' | 'manifestHead' | 'manifestPut' | 'manifestDelete'> & TagDeleter;


export function createManifests(t: Transport): Manifests {
  const manifestUrl = (repo: string, ref: string) => `${repoPath(repo)}/manifests/${ref}`;

  async function manifestGet(repo: string, ref: string): Promise<ManifestGetResult | 'not-found'> {
    const what = `GET manifest ${checkReferenceArg(ref)} from ${repo}`;
    const res = await t.send({ method: 'GET', url: manifestUrl(repo, ref), scopes: [pullScope(repo)], what, headers: { accept: ACCEPT_MANIFESTS } });
    if (res.status === 404) {
      await discard(res);
      return 'not-found';
    }
    await t.checkStatus(res, what, [200]);
    const body = await t.readLimited(res, MAX_MANIFEST_BYTES, what);
    try {
      return checkManifestAnswer(ref, body, { contentType: res.headers.get('content-type') ?? undefined, digest: res.headers.get('docker-content-digest') ?? undefined });
    } catch (error) {
      if (error instanceof ManifestAnswerError) throw t.garbage(what, error.message);
      throw error;
    }
  }

  async function manifestHead(repo: string, ref: string): Promise<ManifestHeadResult | 'not-found'> {
    const what = `HEAD manifest ${checkReferenceArg(ref)} in ${repo}`;
    const res = await t.send({ method: 'HEAD', url: manifestUrl(repo, ref), scopes: [pullScope(repo)], what, headers: { accept: ACCEPT_MANIFESTS } });
    await discard(res);
    if (res.status === 404) return 'not-found';
    await t.checkStatus(res, what, [200]);
    const answered = t.digestHeader(res, what);
    if (isDigest(ref) && answered && answered !== ref) throw t.garbage(what, `it names digest ${answered}`);
    const digest = answered ?? (isDigest(ref) ? ref : undefined);
    const size = Number(res.headers.get('content-length'));
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    if (!digest || !Number.isSafeInteger(size) || !mediaType) {
      // Some registries omit headers on HEAD; the GET answer is authoritative.
      const full = await manifestGet(repo, ref);
      if (full === 'not-found') return full;
      return { mediaType: full.mediaType, digest: full.digest, size: full.body.length };
    }
    return { mediaType, digest, size };
  }

  async function manifestPut(repo: string, ref: string, body: Buffer, mediaType: string): Promise<{ digest: string }> {
    const what = `PUT manifest ${checkReferenceArg(ref)} to ${repo}`;
    const digest = sha256Digest(body);
    if (isDigest(ref) && ref !== digest) {
      throw new AurenError('input', `manifest bytes hash to ${digest}, not to the reference ${ref}`, 'Send the exact bytes the digest was computed from.');
    }
    if (body.length > MAX_MANIFEST_BYTES) {
      throw new AurenError('input', `manifest ${digest} is ${body.length} bytes; registries accept at most 4 MiB`);
    }
    const res = await t.send({
      method: 'PUT',
      url: manifestUrl(repo, ref),
      scopes: [pushScope(repo)],
      what,
      headers: { 'content-type': mediaType, 'content-length': String(body.length) },
      body: () => body,
    });
    if (res.status !== 201) {
      const detail = await t.describeBody(res);
      const missing = /BLOB_UNKNOWN|MANIFEST_BLOB_UNKNOWN|MANIFEST_UNKNOWN/.test(detail);
      throw new AurenError(
        'registry',
        `registry ${t.registry} answered ${res.status} to ${what}${detail ? `: ${detail}` : ''}`,
        missing
          ? 'The registry lacks a blob or child manifest this manifest references; push the whole image (blobs first).'
          : res.status === 400
            ? `The registry rejected the manifest (media type ${mediaType}); check it is a valid OCI/Docker manifest.`
            : undefined,
      );
    }
    const answered = t.digestHeader(res, what);
    await discard(res);
    if (answered && answered !== digest) throw t.garbage(what, `it stored digest ${answered} for bytes that hash to ${digest}`);
    return { digest };
  }

  async function deleteRef(repo: string, ref: string, what: string): Promise<'deleted' | 'not-found' | 'unsupported'> {
    const res = await t.send({ method: 'DELETE', url: manifestUrl(repo, ref), scopes: [deleteScope(repo)], what });
    const detail = res.status === 202 ? '' : await t.describeBody(res);
    await discard(res);
    if (res.status === 202 || res.status === 200) return 'deleted';
    if (res.status === 404) return 'not-found';
    // distribution answers 405 UNSUPPORTED when storage.delete is disabled.
    if (res.status === 405 || /UNSUPPORTED/.test(detail)) return 'unsupported';
    throw new AurenError('registry', `registry ${t.registry} answered ${res.status} to ${what}${detail ? `: ${detail}` : ''}`);
  }

  const manifestDelete = (repo: string, digest: string) => deleteRef(repo, digest, `DELETE manifest ${checkDigestArg(digest)} in ${repo}`);

  async function tagDelete(repo: string, tag: string): Promise<'deleted' | 'not-found' | 'unsupported'> {
    if (isDigest(tag)) throw new AurenError('input', `"${tag}" is a digest, not a tag`, 'Delete manifests by digest with manifestDelete.');
    const what = `DELETE tag ${checkReferenceArg(tag)} in ${repo}`;
    const res = await t.send({ method: 'DELETE', url: manifestUrl(repo, tag), scopes: [deleteScope(repo)], what });
    const detail = res.status === 202 ? '' : await t.describeBody(res);
    await discard(res);
    if (res.status === 202 || res.status === 200) return 'deleted';
    if (res.status === 404 && !/UNSUPPORTED/.test(detail)) return 'not-found';
    // distribution 2.8 parses the reference as a digest: 400 DIGEST_INVALID (or 405 UNSUPPORTED).
    if (res.status === 405 || res.status === 400 || /UNSUPPORTED|DIGEST_INVALID/.test(detail)) return 'unsupported';
    throw new AurenError('registry', `registry ${t.registry} answered ${res.status} to ${what}${detail ? `: ${detail}` : ''}`);
  }

  return { manifestGet, manifestHead, manifestPut, manifestDelete, tagDelete };
}
