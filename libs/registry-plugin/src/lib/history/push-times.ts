import type { RegistryClient } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { readEvent, tagTime } from './store';

/**
 * When each image was last pushed, from the push history: what retention ages images by.
 *
 * The time of an event is the time in its tag, which the recorder sets after the push finished:
 * never earlier than the push, so an age read from it is never more than the true age. The
 * event's own `at` is not used (it is only as good as the writer's JSON).
 *
 * Events are read newest first, a batch at a time, and reading stops as soon as every image asked
 * about has been found: the newest event naming an image is the first one met. An image the
 * history never names makes the reader go through every event, once per run (events read are
 * kept for the next question).
 */
export interface PushTimes {
  /** For each `<repository>@<digest>` asked about, the newest recorded push; absent when none. */
  newest(keys: Iterable<string>): Promise<Map<string, Date>>;
}

export const pushKey = (repository: string, digest: string) => `${repository}@${digest}`;

export function pushHistoryReader(client: RegistryClient, repo: string, options: { concurrency?: number } = {}): PushTimes {
  const concurrency = options.concurrency ?? 16;
  const found = new Map<string, Date>();
  let queue: Promise<Array<{ tag: string; time: Date }>> | undefined;
  let cursor = 0;
  // One question at a time: batches must be read in order for "first met is newest" to hold.
  let turn: Promise<unknown> = Promise.resolve();

  const listed = () =>
    (queue ??= client.tagList(repo).then((tags) =>
      tags
        .map((tag) => ({ tag, time: tagTime(tag) }))
        .filter((t): t is { tag: string; time: Date } => t.time !== undefined)
        .sort((a, b) => b.time.getTime() - a.time.getTime() || b.tag.localeCompare(a.tag)),
    ));

  async function newest(keys: Iterable<string>): Promise<Map<string, Date>> {
    const wanted = [...new Set(keys)];
    const events = await listed();
    while (cursor < events.length && wanted.some((k) => !found.has(k))) {
      const batch = events.slice(cursor, cursor + concurrency * 4);
      cursor += batch.length;
      const read = await mapLimit(batch, concurrency, (e) => readEvent(client, repo, e.tag));
      read.forEach((event, i) => {
        if (!event?.digest) return;
        const key = pushKey(event.repository, event.digest);
        if (!found.has(key)) found.set(key, batch[i].time);
      });
    }
    return new Map(wanted.filter((k) => found.has(k)).map((k) => [k, found.get(k)!]));
  }

  return {
    newest(keys) {
      const answer = turn.then(() => newest(keys));
      turn = answer.catch(() => undefined);
      return answer;
    },
  };
}
