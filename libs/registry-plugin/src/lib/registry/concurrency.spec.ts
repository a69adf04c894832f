import { inTurn, mapLimit } from './concurrency';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('inTurn: one body at a time per key, in the order asked', () => {
  it('runs the bodies of one key one after another, in order, a failure letting the next go; other keys run beside them', async () => {
    const turn = inTurn();
    const events: string[] = [];
    let inside = 0;
    const body = (id: string, fail = false) => async () => {
      inside++;
      events.push(`${id} in (${inside} running)`);
      await tick(15);
      inside--;
      events.push(`${id} out`);
      if (fail) throw new Error(`${id} failed`);
      return id;
    };
    const results = await Promise.allSettled([turn('k', body('a')), turn('k', body('b', true)), turn('k', body('c')), turn('other', body('x'))]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b failed', 'c', 'x']);
    const ofK = events.filter((e) => !e.startsWith('x'));
    expect(ofK.map((e) => e.replace(/ \(.*\)/, ''))).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    // The other key did not wait for the first: it ran while `a` did.
    expect(events.indexOf('x in (2 running)')).toBeGreaterThan(-1);
  });

  it('is free again once its queue has run', async () => {
    const turn = inTurn();
    expect(await turn('k', async () => 1)).toBe(1);
    expect(await turn('k', async () => 2)).toBe(2);
  });
});

describe('mapLimit', () => {
  it('keeps the input order and never runs more than the limit', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([30, 5, 20, 1, 10], 2, async (ms, i) => {
      running++;
      most = Math.max(most, running);
      await tick(ms);
      running--;
      return i;
    });
    expect(out).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });
});
