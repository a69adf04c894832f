import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import type { Response } from 'undici';
import { AurenError } from '../errors/errors';
import { checkDigestArg, pullScope, repoPath } from './arguments';
import { discard } from './http/answers';
import { networkFailure } from './http/failures';
import type { Transport } from './http/transport';
import type { RegistryClient } from './types';

/** Blob reads (distribution spec "Pulling blobs", "Checking if content exists"). */
export type Blobs = Pick<RegistryClient, 'blobHead' | 'blobGet' | 'blobGetRange'>;

export function createBlobs(t: Transport): Blobs {
  async function blobHead(repo: string, digest: string): Promise<{ size: number } | 'not-found'> {
    const what = `HEAD blob ${checkDigestArg(digest)} in ${repo}`;
    const res = await t.send({ method: 'HEAD', url: `${repoPath(repo)}/blobs/${digest}`, scopes: [pullScope(repo)], what });
    await discard(res);
    if (res.status === 404) return 'not-found';
    await t.checkStatus(res, what, [200]);
    const size = Number(res.headers.get('content-length'));
    if (!Number.isSafeInteger(size) || size < 0) throw t.garbage(what, 'no valid Content-Length');
    const answered = t.digestHeader(res, what);
    if (answered && answered !== digest) throw t.garbage(what, `it names digest ${answered}`);
    return { size };
  }

  async function get(repo: string, digest: string, what: string, expected: number[], headers?: Record<string, string>): Promise<Response> {
    const res = await t.send({ method: 'GET', url: `${repoPath(repo)}/blobs/${digest}`, scopes: [pullScope(repo)], what, headers });
    if (res.status === 404) {
      await discard(res);
      throw new AurenError('registry', `blob ${digest} does not exist in ${t.registry}/${repo}`, 'The image is incomplete in the registry; push it again.');
    }
    await t.checkStatus(res, what, expected);
    if (!res.body) throw t.garbage(what, 'no body');
    return res;
  }

  async function blobGet(repo: string, digest: string): Promise<Readable> {
    const what = `GET blob ${checkDigestArg(digest)} from ${repo}`;
    const res = await get(repo, digest, what, [200]);
    const algorithm = digest.split(':')[0];
    const hash = algorithm === 'sha256' || algorithm === 'sha512' ? createHash(algorithm) : undefined;
    const verify = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash?.update(chunk);
        done(null, chunk);
      },
      flush(done) {
        const got = hash ? `${algorithm}:${hash.digest('hex')}` : digest;
        done(got === digest ? null : t.garbage(what, `the bytes hash to ${got}`));
      },
    });
    const source = Readable.from(res.body as unknown as AsyncIterable<Uint8Array>);
    const out = new PassThrough();
    source.on('error', (error) => {
      const failure = networkFailure(error);
      out.destroy(failure ? t.unreachable(failure, what, 1) : error);
    });
    verify.on('error', (error) => out.destroy(error));
    source.pipe(verify).pipe(out);
    return out;
  }

  async function blobGetRange(repo: string, digest: string, start: number, end: number): Promise<Readable> {
    const what = `GET blob ${checkDigestArg(digest)} bytes ${start}-${end} from ${repo}`;
    const res = await get(repo, digest, what, [200, 206], { range: `bytes=${start}-${end}` });
    const source = Readable.from(res.body as unknown as AsyncIterable<Uint8Array>);
    if (res.status === 206) return source;
    // A registry that ignores Range sends the whole blob: keep only the wanted bytes.
    return sliceStream(source, start, end);
  }

  return { blobHead, blobGet, blobGetRange };
}

/** Bytes `start..end` (inclusive) of a stream that starts at byte 0; stops reading after `end`. */
export function sliceStream(whole: Readable, start: number, end: number): Readable {
  let position = 0;
  const slice = new Transform({
    transform(chunk: Buffer, _enc, done) {
      const from = Math.max(0, start - position);
      const to = Math.min(chunk.length, end + 1 - position);
      position += chunk.length;
      if (to > from) this.push(chunk.subarray(from, to));
      if (position > end) {
        this.push(null);
        whole.destroy();
      }
      done();
    },
  });
  whole.on('error', (error) => slice.destroy(error));
  return whole.pipe(slice);
}
