/**
 * One bound on requests in flight shared by every step of a monitor run. Nested `mapLimit`s
 * would multiply (repositories × tags × children); a single semaphore keeps the registry's load
 * at `limit` however the work fans out.
 */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimiter(limit: number): Limiter {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    // A finishing task hands its slot straight to the next waiter, so a newcomer can never
    // slip in between and push the count past `limit`.
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/** A promise cache: the first caller for a key does the work, the others share its promise. */
export function memo<T>(): (key: string, compute: () => Promise<T>) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (key, compute) => {
    let hit = cache.get(key);
    if (!hit) {
      hit = compute();
      cache.set(key, hit);
    }
    return hit;
  };
}
