import { createRegistryClient } from '../registry/client';
import { useTestRegistry } from '../../testing/registry-server.testing';
import { pushHistoryReader, pushKey } from './push-times';
import { historyRepository, recordPushEvent } from './store';

describe('push times from the push history', () => {
  const { registry, client } = useTestRegistry();
  const repo = historyRepository('auren');
  const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
  const at = (days: number) => new Date(Date.UTC(2025, 5, 1) - days * 86_400_000);
  const push = (repository: string, n: number, when: Date) =>
    recordPushEvent(client, repo, { outcome: 'success', project: 'p', registry: registry.host, repository, digest: digest(n), tags: ['dev'], at: '1970-01-01T00:00:00Z' }, when);

  beforeAll(async () => {
    await push('auren/api', 1, at(90));
    await push('auren/api', 1, at(3)); // pushed again: the newest counts
    await push('auren/api', 2, at(40));
    await push('auren/web', 1, at(1)); // same digest, another repository
    for (let i = 0; i < 40; i++) await push('auren/other', 100 + i, at(0));
  });

  it('gives each image its newest recorded push, by repository, from the time in the event tag', async () => {
    const times = await pushHistoryReader(client, repo).newest([pushKey('auren/api', digest(1)), pushKey('auren/api', digest(2)), pushKey('auren/api', digest(9))]);
    expect(Object.fromEntries([...times].map(([k, v]) => [k, v.toISOString()]))).toEqual({
      [pushKey('auren/api', digest(1))]: at(3).toISOString(),
      [pushKey('auren/api', digest(2))]: at(40).toISOString(),
    });
  });

  it('stops reading once every image asked about is found, newest first', async () => {
    const gets: string[] = [];
    const counting = createRegistryClient({ registry: registry.host, onRequest: (method, url) => void (method === 'GET' && url.includes('/manifests/') && gets.push(url)) });
    const reader = pushHistoryReader(counting, repo, { concurrency: 2 });
    const times = await reader.newest([pushKey('auren/other', digest(139))]);
    expect(times.size).toBe(1);
    expect(gets.length).toBeLessThan(44);
    // A later question goes on from where the first stopped, and reads no event twice.
    const before = gets.length;
    await reader.newest([pushKey('auren/api', digest(2))]);
    expect(new Set(gets).size).toBe(gets.length);
    expect(gets.length).toBeGreaterThan(before);
  });

  it('is empty for a registry with no history', async () => {
    expect((await pushHistoryReader(client, historyRepository('nobody')).newest([pushKey('auren/api', digest(1))])).size).toBe(0);
  });
});
