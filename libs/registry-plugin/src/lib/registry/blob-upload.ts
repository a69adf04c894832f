import type { Readable } from 'node:stream';
import type { Response } from 'undici';
import { AurenError } from '../errors/errors';
import { checkDigestArg, pullScope, pushScope, repoPath } from './arguments';
import { sliceStream, type Blobs } from './blobs';
import { validateRepository } from './reference';
import { collectWhileStreaming } from './stream-memory';
import { discard } from './http/answers';
import { NetworkFailure } from './http/failures';
import { backoff, isRetryableStatus, retryAfterMs, sleep } from './http/retry';
import type { RequestSpec, Transport } from './http/transport';
import type { BlobSource, RegistryClient } from './types';

/**
 * Pushing blobs (distribution spec "Pushing blobs", "Mounting a blob from another repository"):
 * the upload state machine with resume. Protocol logic of our own, so written by hand.
 */
export type BlobUploads = Pick<RegistryClient, 'blobUpload' | 'blobMount'>;

/** `Range: 0-<last>` of an upload session → the next offset to send. */
function nextOffset(res: Response): number | undefined {
  const match = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get('range') ?? '');
  if (!match) return undefined;
  const last = Number(match[1]);
  // distribution answers "0-0" for an empty session as well as for one byte; an empty
  // session is the case that happens (right after POST), a one-byte chunk never does.
  return last === 0 ? 0 : last + 1;
}

const withQuery = (target: string, query: string) => `${target}${target.includes('?') ? '&' : '?'}${query}`;

function openRange(source: BlobSource, start: number, end: number): Readable {
  if (source.openRange) return source.openRange(start, end);
  // No random access: read through the stream and keep only the wanted bytes.
  return sliceStream(source.open(), start, end);
}

export function createBlobUploads(t: Transport, blobs: Pick<Blobs, 'blobHead'>, chunkSize: number): BlobUploads {
  const { retry } = t;

  async function startUpload(repo: string): Promise<string> {
    const what = `starting an upload to ${repo}`;
    const res = await t.send({ method: 'POST', url: `${repoPath(repo)}/blobs/uploads/`, scopes: [pushScope(repo)], what, headers: { 'content-length': '0' } });
    await t.checkStatus(res, what, [202]);
    await discard(res);
    return t.location(res, what);
  }

  async function cancelUpload(target: string, repo: string): Promise<void> {
    await t
      .send({ method: 'DELETE', url: target, scopes: [pushScope(repo)], what: `cancelling an upload to ${repo}`, retry: false })
      .then(discard)
      .catch(() => undefined);
  }

  function uploadFailed(res: Response | undefined, source: BlobSource, repo: string, detail: string): AurenError {
    if (res && res.status === 400 && /DIGEST_INVALID|SIZE_INVALID/.test(detail)) {
      return new AurenError(
        'registry',
        `registry ${t.registry} rejected blob ${source.digest} for ${repo}: ${detail}`,
        'The local blob does not match its digest (changed or corrupt file); rebuild the image artifact.',
      );
    }
    return new AurenError(
      'registry',
      `upload of blob ${source.digest} to ${t.registry}/${repo} failed${res ? ` (${res.status})` : ''}: ${detail}`,
      res && res.status >= 500 ? 'The registry is failing; check its logs or status page and retry.' : undefined,
    );
  }

  /**
   * Streams a blob: one PUT for small blobs (after POST, as the spec's "POST then PUT"), PATCH
   * chunks for large ones. After a failed chunk we ask the session where it stands (GET on the
   * upload URL → `Range`) and continue from there; if the registry dropped the session (distribution
   * cancels it when a half-written PATCH left it at an unexpected offset) we open a new one.
   */
  async function blobUpload(repo: string, source: BlobSource, options: { checkExists?: boolean } = {}): Promise<'uploaded' | 'already-exists'> {
    checkDigestArg(source.digest);
    if (options.checkExists !== false && (await blobs.blobHead(repo, source.digest)) !== 'not-found') return 'already-exists';
    const release = collectWhileStreaming();
    try {
      return await streamBlob(repo, source);
    } finally {
      release();
    }
  }

  async function streamBlob(repo: string, source: BlobSource): Promise<'uploaded'> {
    const started = Date.now();
    let failures = 0;
    let target = await startUpload(repo);
    let offset = 0;

    const recover = async (why: NetworkFailure | { res: Response; detail: string }): Promise<void> => {
      failures++;
      const res = why instanceof NetworkFailure ? undefined : why.res;
      const detail = why instanceof NetworkFailure ? `connection failed (${why.code})` : why.detail;
      if (failures >= retry.attempts || Date.now() - started > retry.deadlineMs) {
        throw uploadFailed(res, source, repo, `${detail}; gave up after ${failures} attempts`);
      }
      const after = res ? retryAfterMs(res) : undefined;
      await sleep(Math.max(after ?? 0, backoff(retry, failures)));
      // The final PUT may have landed even though its answer was lost.
      if ((await blobs.blobHead(repo, source.digest)) !== 'not-found') {
        offset = source.size;
        target = '';
        return;
      }
      const status = await t.send({ method: 'GET', url: target, scopes: [pushScope(repo)], what: `upload status of ${source.digest}` });
      await discard(status);
      const resumeAt = status.status === 204 ? nextOffset(status) : undefined;
      if (resumeAt !== undefined && resumeAt <= source.size && source.size > chunkSize) {
        target = t.location(status, 'upload status');
        offset = resumeAt;
      } else {
        if (status.status === 204) await cancelUpload(target, repo);
        target = await startUpload(repo);
        offset = 0;
      }
    };

    const attempt = async (request: RequestSpec, ok: number): Promise<Response | undefined> => {
      let res: Response;
      try {
        res = await t.send({ ...request, retry: false });
      } catch (error) {
        if (!(error instanceof NetworkFailure)) throw error;
        await recover(error);
        return undefined;
      }
      if (res.status === ok) return res;
      const detail = await t.describeBody(res);
      if (res.status === 400 && /DIGEST_INVALID|SIZE_INVALID/.test(detail)) throw uploadFailed(res, source, repo, detail);
      if (isRetryableStatus(res.status) || res.status === 404 || res.status === 416 || /BLOB_UPLOAD_(INVALID|UNKNOWN)/.test(detail)) {
        await recover({ res, detail });
        return undefined;
      }
      throw uploadFailed(res, source, repo, detail);
    };

    const put = (what: string, headers: Record<string, string>, body?: () => Readable): RequestSpec => ({
      method: 'PUT',
      url: withQuery(target, `digest=${encodeURIComponent(source.digest)}`),
      scopes: [pushScope(repo)],
      what,
      headers,
      body,
    });

    while (target) {
      if (source.size <= chunkSize) {
        const headers = { 'content-type': 'application/octet-stream', 'content-length': String(source.size) };
        const res = await attempt(put(`PUT blob ${source.digest} to ${repo}`, headers, () => source.open()), 201);
        if (res) {
          await discard(res);
          return 'uploaded';
        }
        continue;
      }
      if (offset < source.size) {
        const end = Math.min(offset + chunkSize, source.size) - 1;
        const from = offset;
        const res = await attempt(
          {
            method: 'PATCH',
            url: target,
            scopes: [pushScope(repo)],
            what: `PATCH blob ${source.digest} bytes ${from}-${end} to ${repo}`,
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${end}`, 'content-length': String(end - from + 1) },
            body: () => openRange(source, from, end),
          },
          202,
        );
        if (res) {
          await discard(res);
          target = t.location(res, 'PATCH blob');
          const next = nextOffset(res) ?? end + 1;
          if (next !== end + 1) throw t.garbage(`PATCH blob ${source.digest}`, `Range says ${next} bytes were stored, ${end + 1} were sent`);
          offset = next;
        }
        continue;
      }
      const res = await attempt(put(`finishing upload of blob ${source.digest} to ${repo}`, { 'content-length': '0' }), 201);
      if (res) {
        await discard(res);
        return 'uploaded';
      }
    }
    return 'uploaded';
  }

  async function blobMount(repo: string, fromRepo: string, digest: string): Promise<'mounted' | 'not-mounted'> {
    const what = `mounting blob ${checkDigestArg(digest)} from ${fromRepo} into ${repo}`;
    validateRepository(fromRepo);
    const res = await t.send({
      method: 'POST',
      url: `${repoPath(repo)}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepo)}`,
      scopes: [pushScope(repo), pullScope(fromRepo)],
      what,
      headers: { 'content-length': '0' },
    });
    await discard(res);
    if (res.status === 201) return 'mounted';
    if (res.status === 202) {
      // Spec: the registry opened an ordinary upload session instead; we do not use it.
      await cancelUpload(t.location(res, what), repo);
      return 'not-mounted';
    }
    throw await t.unexpected(res, what);
  }

  return { blobUpload, blobMount };
}
