import { createRegistryClient, type RegistryClient } from '../registry/client';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { failureEvent } from './event';
import { eventTag, historyRepository, readPushHistory, recordPushEvent, tagTime } from './store';
import { parseWindow } from './window';

describe('push history in the registry', () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  const repo = historyRepository('auren');

  beforeAll(async () => {
    registry = await startTestRegistry();
    client = createRegistryClient({ registry: registry.host });
  });
  afterAll(() => registry?.stop());

  const event = (project: string, outcome: 'success' | 'failure' = 'success') => ({
    outcome,
    project,
    registry: registry.host,
    repository: `auren/${project}`,
    tags: outcome === 'success' ? ['1.0.0'] : [],
    digest: outcome === 'success' ? `sha256:${'a'.repeat(64)}` : undefined,
    scan: { verdict: 'pass' as const, critical: 0, high: 1 },
  });

  it('keeps both of two concurrent appends', async () => {
    const [a, b] = await Promise.all([recordPushEvent(client, repo, event('auren-api')), recordPushEvent(client, repo, event('auren-nginx'))]);
    const history = await readPushHistory(client, repo, '1h');
    const ids = history.map((e) => e.id);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
    expect(history.find((e) => e.id === a.id)).toMatchObject({ project: 'auren-api', outcome: 'success', scan: { critical: 0, high: 1 } });
  });

  it('loses nothing under many concurrent appends', async () => {
    const before = (await readPushHistory(client, repo, '1h')).length;
    await Promise.all(Array.from({ length: 12 }, (_, i) => recordPushEvent(client, repo, event(`app-${i}`, i % 3 ? 'success' : 'failure'))));
    expect((await readPushHistory(client, repo, '1h')).length).toBe(before + 12);
  });

  it('reads only the window, skipping older tags without fetching them', async () => {
    const old = new Date(Date.now() - 10 * 86_400_000);
    const stale = await recordPushEvent(client, repo, { ...event('old-app'), at: old.toISOString() }, old);
    const fetched: string[] = [];
    const counting = createRegistryClient({ registry: registry.host, onRequest: (method, url) => fetched.push(`${method} ${url}`) });
    const week = await readPushHistory(counting, repo, '7d');
    expect(week.map((e) => e.id)).not.toContain(stale.id);
    expect(fetched.some((u) => u.includes(stale.id))).toBe(false);
    expect((await readPushHistory(client, repo, '30d')).map((e) => e.id)).toContain(stale.id);
  });

  it('records failures with their error and no tags', async () => {
    const failed = await recordPushEvent(client, repo, failureEvent({ project: 'auren-api', registry: registry.host, repository: 'auren/auren-api', error: 'registry answered 500', env: {} }));
    const history = await readPushHistory(client, repo, '1h');
    expect(history.find((e) => e.id === failed.id)).toMatchObject({ outcome: 'failure', error: 'registry answered 500', tags: [] });
  });

  it('reads an empty history from a repository that does not exist', async () => {
    expect(await readPushHistory(client, historyRepository('nobody'), '7d')).toEqual([]);
  });
});

describe('event tags and windows', () => {
  it.each([
    ['2025-01-02T03:04:05.678Z', 'event-20250102T030405678Z-ab12'],
    ['2031-12-31T23:59:59.999Z', 'event-20311231T235959999Z-ab12'],
  ])('%s ↔ %s', (iso, tag) => {
    expect(eventTag(new Date(iso), 'ab12')).toBe(tag);
    expect(tagTime(tag)?.toISOString()).toBe(iso);
  });

  it.each(['latest', 'event-2025-x', 'event-20250102T030405678Z-XYZ'])('%s is not an event tag', (tag) => {
    expect(tagTime(tag)).toBeUndefined();
  });

  it.each([
    ['30m', 30 * 60_000],
    ['24h', 86_400_000],
    ['7d', 7 * 86_400_000],
    ['2w', 14 * 86_400_000],
  ])('window %s', (spec, ms) => {
    const now = new Date('2025-06-01T00:00:00Z');
    expect(now.getTime() - parseWindow(spec, now).since.getTime()).toBe(ms);
  });

  it.each(['', '7', 'd', '0d', '-1d', '7y'])('rejects window "%s"', (spec) => {
    expect(() => parseWindow(spec)).toThrow(/invalid window/);
  });
});
