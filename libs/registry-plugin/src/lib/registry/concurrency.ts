/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index], index);
      } catch (error) {
        // Stop handing out work; the first error wins, in-flight items finish on their own.
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  await Promise.all(workers);
  return results;
}

/**
 * Per key, one `body` at a time in this process, in the order they were asked for; a body that
 * fails lets the next one go. For work that must not overlap within a process (a batch runs its
 * tasks side by side): the Trivy cache, the builder.
 */
export function inTurn(): <T>(key: string, body: () => Promise<T>) => Promise<T> {
  const queued = new Map<string, Promise<void>>();
  return async (key, body) => {
    const previous = queued.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((done) => (release = done));
    const mine = previous.then(() => gate);
    queued.set(key, mine);
    await previous;
    try {
      return await body();
    } finally {
      release();
      if (queued.get(key) === mine) queued.delete(key);
    }
  };
}
