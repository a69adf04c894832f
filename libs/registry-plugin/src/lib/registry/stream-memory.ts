import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps a streaming upload's memory flat. Each 64 KiB chunk read from a blob file is a buffer
 * outside V8's heap; a stream allocates almost nothing on the heap itself, so V8 frees those
 * buffers only once ~64 MB of them have piled up, and a 50 MB push peaked at 115–127 MB RSS. A
 * young-generation collection (about a millisecond) every 100 ms while blobs stream frees the
 * chunks already sent: the same push peaks at ~95 MB (`node bench/push.mjs`).
 *
 * Calls nest: concurrent uploads share one timer, which stops when the last one ends.
 */
const EVERY_MS = 100;
let holders = 0;
let timer: NodeJS.Timeout | undefined;
let collect: ((options: { type: 'minor' }) => void) | null | undefined;

function youngCollector(): typeof collect {
  if (collect === undefined) {
    try {
      // `gc` exists only behind --expose-gc; enabled now, it appears in contexts made afterwards.
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as typeof collect;
    } catch {
      collect = null;
    }
  }
  return collect;
}

/** Starts collecting (if this is the first holder); call the returned function when the stream ends. */
export function collectWhileStreaming(): () => void {
  const gc = youngCollector();
  if (!gc) return () => undefined;
  if (holders++ === 0) timer = setInterval(() => gc({ type: 'minor' }), EVERY_MS).unref();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) clearInterval(timer);
  };
}
