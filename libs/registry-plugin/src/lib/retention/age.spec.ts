import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestRegistry } from '../../testing/registry-server.testing';
import { normalizeOptions } from '../config/options';
import { cleanRegistry, normalizeCleanupOptions } from './run';
import { pushTestImage, pushMultiArch, recordPushed, tagManifest } from './images.testing';

/**
 * Reproducible builds write 1970-01-01 into the image config's `created` (lib/pipeline/build.ts,
 * LAYER_EPOCH). Retention once aged dev and branch images by that field, so every one of them was
 * "20,000 days old" and the weekly `cleanup --apply` deleted it minutes after its push. The age
 * now comes from the push history the pipeline writes (`<namespace>/auren-history`); an image it
 * has no record of is kept and the plan says why.
 */

const EPOCH = '1970-01-01T00:00:00Z';
const DAY = 86_400_000;

describe('retention ages images by their push, never by the config created time', () => {
  const { registry, client } = useTestRegistry();
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'auren-age-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const clean = async (repository: string, apply: boolean) => {
    const config = normalizeOptions({ registry: registry.host, namespace: 'auren', retention: { keepReleases: 1, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: true } }, {});
    const io = { root, env: {}, out: () => undefined, log: () => undefined };
    return cleanRegistry(client, config, normalizeCleanupOptions({ repositories: repository, apply, deleteVia: 'api' }, root, {}), io);
  };
  const decisions = (result: Awaited<ReturnType<typeof clean>>) => Object.fromEntries(result.plans[0].tags.map((t) => [t.tag, `${t.action}:${t.rule}`]));

  it('keeps a dev image whose config says 1970, pushed a minute ago, through plan and --apply', async () => {
    const repo = 'auren/repro';
    const dev = await pushTestImage(client, repo, { created: EPOCH });
    for (const tag of ['dev', 'develop-abc1234']) await tagManifest(client, repo, tag, dev);
    await recordPushed(client, repo, dev.digest, new Date(Date.now() - 60_000), ['dev', 'develop-abc1234']);
    const branch = await pushMultiArch(client, repo, EPOCH, 'dev-feature-x');
    await tagManifest(client, repo, 'feature-x-0123abc', branch.index);
    await recordPushed(client, repo, branch.index.digest, new Date(), ['dev-feature-x', 'feature-x-0123abc']);

    const plan = await clean(repo, false);
    expect(decisions(plan)).toEqual({
      dev: 'keep:recent',
      'develop-abc1234': 'keep:recent',
      'dev-feature-x': 'keep:recent',
      'feature-x-0123abc': 'keep:recent',
    });
    expect(plan.plans[0].tags.find((t) => t.tag === 'dev')!.detail).toMatch(/old \(pushed .* per the push history\) ≤ 30 d/);

    const applied = await clean(repo, true);
    expect(applied.outcomes).toEqual([]);
    for (const m of [dev, branch.index, ...branch.children]) expect(await client.manifestHead(repo, m.digest)).not.toBe('not-found');
  });

  it('keeps an image the push history does not know, whatever its config says, and says why', async () => {
    const repo = 'auren/unknown-age';
    for (const [tag, created] of [['dev', EPOCH], ['dev-garbage', 'not a date'], ['dev-future', '2999-01-01T00:00:00Z'], ['main-0000001', '2001-01-01T00:00:00Z']]) {
      await tagManifest(client, repo, tag, await pushTestImage(client, repo, { created }));
    }
    const plan = await clean(repo, false);
    for (const t of plan.plans[0].tags) {
      expect(`${t.tag} ${t.action}:${t.rule}`).toBe(`${t.tag} keep:age-unknown`);
      expect(t.detail).toMatch(/no push of it in the push history/);
    }
    expect(plan.plans[0].tags.find((t) => t.tag === 'dev')!.detail).toContain(`config created ${EPOCH}`);
  });

  it('still deletes an image whose last recorded push is older than devMaxAgeDays', async () => {
    const repo = 'auren/expired';
    const old = await pushTestImage(client, repo, { created: EPOCH });
    await tagManifest(client, repo, 'dev-old', old);
    await recordPushed(client, repo, old.digest, new Date(Date.now() - 60 * DAY), ['dev-old']);
    const again = await pushTestImage(client, repo, { created: EPOCH });
    await tagManifest(client, repo, 'dev', again);
    // Pushed long ago, and again (same digest, tag moved back to it) yesterday: the newest push counts.
    await recordPushed(client, repo, again.digest, new Date(Date.now() - 90 * DAY), ['dev']);
    await recordPushed(client, repo, again.digest, new Date(Date.now() - DAY), ['dev']);

    const applied = await clean(repo, true);
    expect(decisions(applied)).toEqual({ 'dev-old': 'delete:expired', dev: 'keep:recent' });
    expect(await client.manifestHead(repo, old.digest)).toBe('not-found');
    expect(await client.manifestHead(repo, again.digest)).not.toBe('not-found');
  });
});
