import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import type { Response } from 'undici';
import { AurenError } from '../errors/errors';
import { checkDigestArg, pullScope, repoPath } from './arguments';
import { parseDigest } from './digest';
import { discard } from './http/answers';
import { networkFailure } from './http/failures';
import type { Transport } from './http/transport';
import type { BlobGetOptions, RegistryClient } from './types';

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

  /** Refuses a declared length over `size` before any byte is read. */
  async function checkLength(res: Response, size: number | undefined, what: string): Promise<void> {
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (size !== undefined && declared > size) {
      await res.body?.cancel().catch(() => undefined);
      throw t.garbage(what, `the answer is ${declared} bytes, more than the ${size} bytes its descriptor says`);
    }
  }

  async function blobGet(repo: string, digest: string, options: BlobGetOptions = {}): Promise<Readable> {
    const what = `GET blob ${checkDigestArg(digest)} from ${repo}`;
    const { size } = options;
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) throw new AurenError('input', `invalid blob size ${size} for ${digest}`);
    const res = await get(repo, digest, what, [200]);
    await checkLength(res, size, what);
    const { algorithm } = parseDigest(digest);
    const hash = createHash(algorithm);
    let received = 0;
    const verify = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        // Stop at the descriptor's size: a registry sending more is lying about the blob, and
        // nothing past the size reaches the consumer (a file, another registry).
        if (size !== undefined && received > size) return done(t.garbage(what, `more than the ${size} bytes its descriptor says`));
        hash.update(chunk);
        done(null, chunk);
      },
      flush(done) {
        if (size !== undefined && received !== size) return done(t.garbage(what, `${received} bytes, not the ${size} its descriptor says`));
        const got = `${algorithm}:${hash.digest('hex')}`;
        done(got === digest ? null : t.garbage(what, `the bytes hash to ${got}`));
      },
    });
    return verified(res, what, verify);
  }

  /** The answer's body through `check`; network failures become the user's error, and a failed check stops the download. */
  function verified(res: Response, what: string, check: Transform): Readable {
    const source = Readable.from(res.body as unknown as AsyncIterable<Uint8Array>);
    const out = new PassThrough();
    source.on('error', (error) => {
      const failure = error instanceof AurenError ? undefined : networkFailure(error);
      out.destroy(failure ? t.unreachable(failure, what, 1) : error);
    });
    check.on('error', (error) => {
      source.destroy();
      out.destroy(error);
    });
    out.on('close', () => {
      if (!source.destroyed && !source.readableEnded) source.destroy();
    });
    source.pipe(check).pipe(out);
    return out;
  }

  async function blobGetRange(repo: string, digest: string, start: number, end: number): Promise<Readable> {
    const what = `GET blob ${checkDigestArg(digest)} bytes ${start}-${end} from ${repo}`;
    const res = await get(repo, digest, what, [200, 206], { range: `bytes=${start}-${end}` });
    if (res.status === 206) {
      const wanted = end - start + 1;
      await checkLength(res, wanted, what);
      let received = 0;
      const bound = new Transform({
        transform(chunk: Buffer, _enc, done) {
          received += chunk.length;
          if (received > wanted) return done(t.garbage(what, `more than the ${wanted} bytes asked for`));
          done(null, chunk);
        },
      });
      return verified(res, what, bound);
    }
    // A registry that ignores Range sends the whole blob: keep only the wanted bytes.
    return sliceStream(Readable.from(res.body as unknown as AsyncIterable<Uint8Array>), start, end);
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
