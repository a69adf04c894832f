import { Response } from 'undici';

/**
 * Time bounds on reading an answer's body. undici bounds the wait for headers and for each
 * chunk only with its dispatcher's defaults, and nothing bounds a body that trickles a byte every
 * few seconds forever. So each body read here has two limits, as curl's `--speed-limit` /
 * `--speed-time` and an idle timeout do it:
 * - `idleMs`: no byte at all for this long;
 * - `lowSpeed`: fewer than `bytesPerSecond` over `windowMs` of waiting.
 * Only time spent waiting for the registry counts: a consumer that reads slowly (a copy
 * streaming into a slow target) never trips the limits by itself.
 */
export interface BodyLimits {
  idleMs: number;
  lowSpeed: { bytesPerSecond: number; windowMs: number };
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { idleMs: 60_000, lowSpeed: { bytesPerSecond: 1024, windowMs: 30_000 } };

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/**
 * `res` with a body that errors (with `stalled(problem)`) once a limit is passed; `abort` then
 * closes the connection so the server stops sending.
 */
export function guardBody(res: Response, limits: BodyLimits, stalled: (problem: string) => Error, abort: () => void): Response {
  if (!res.body || NULL_BODY_STATUSES.has(res.status)) return res;
  const reader = res.body.getReader();
  let waited = 0;
  let received = 0;
  const stop = (controller: ReadableStreamDefaultController<Uint8Array>, problem: string) => {
    abort();
    reader.cancel().catch(() => undefined);
    controller.error(stalled(problem));
  };
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const started = Date.now();
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<'idle'>((resolve) => {
          timer = setTimeout(() => resolve('idle'), limits.idleMs);
        });
        let result: Awaited<ReturnType<typeof reader.read>> | 'idle';
        try {
          result = await Promise.race([reader.read(), idle]);
        } catch (error) {
          controller.error(error);
          return;
        } finally {
          clearTimeout(timer);
        }
        if (result === 'idle') return stop(controller, `nothing for ${limits.idleMs} ms`);
        if (result.done) return controller.close();
        waited += Date.now() - started;
        received += result.value.length;
        const { bytesPerSecond, windowMs } = limits.lowSpeed;
        if (waited >= windowMs) {
          const rate = (received * 1000) / waited;
          if (rate < bytesPerSecond) {
            return stop(controller, `the body arrives too slowly (${Math.round(rate)} bytes/s over ${waited} ms, under the ${bytesPerSecond} bytes/s allowed)`);
          }
          waited = 0;
          received = 0;
        }
        controller.enqueue(result.value);
      },
      cancel(reason) {
        abort();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body as ConstructorParameters<typeof Response>[0], { status: res.status, statusText: res.statusText, headers: res.headers });
}
