import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { exec } from '../exec/exec';
import { createRegistryClient } from '../registry/client';
import { runCleanup } from './cleanup';
import { collectLocalRegistry, gcAdvice, registryKind } from './gc';
import { registryStorage } from './storage';
import { pushTestImage, pushMultiArch, recordPushed, tagManifest } from './images.testing';
import { testRegistryControl, type TestRegistryControl } from './local-control.testing';

const OLD = '2024-01-15T00:00:00Z';

describe('garbage collection of the local registry', () => {
  let registry: TestRegistry;
  let work: string;
  let control: TestRegistryControl;
  beforeAll(async () => {
    registry = await startTestRegistry();
    control = testRegistryControl(registry);
    work = mkdtempSync(join(tmpdir(), 'auren-gc-'));
  });
  afterAll(async () => {
    await control?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('reclaims the space of deleted images, keeps every kept image whole, pullable by skopeo', async () => {
    const client = createRegistryClient({ registry: registry.host });
    const repo = 'auren/gc';
    const kept = await pushMultiArch(client, repo, OLD, 'v1.0.0');
    await tagManifest(client, repo, 'latest', kept.index);
    const dropped = await pushTestImage(client, repo, { created: OLD, layerBytes: 512 * 1024 });
    await tagManifest(client, repo, 'dev-old', dropped);
    const droppedIndex = await pushMultiArch(client, repo, OLD, 'dev');
    for (const m of [dropped, droppedIndex.index]) await recordPushed(client, repo, m.digest, OLD);

    const cleanup = await runCleanup(client, {
      repositories: [repo],
      policy: { keepReleases: 10, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: true },
      protections: new Map(),
      apply: true,
      concurrency: 4,
      journalDir: join(work, 'journal'),
      history: 'auren/auren-history',
      now: new Date(),
      // Deleted in the storage folder, as the embedded registry is: GC must reclaim those too.
      storage: registryStorage(registry.dataDir),
    });
    expect(cleanup.outcomes.filter((o) => o.outcome === 'deleted').map((o) => o.digest).sort()).toEqual(
      [dropped.digest, droppedIndex.index.digest, ...droppedIndex.children.map((c) => c.digest)].sort(),
    );

    const modes: boolean[] = [];
    const report = await collectLocalRegistry({ client, control, dryRun: false, log: () => modes.push(control.readOnlyActive()) });
    expect(modes[0]).toBe(false);
    expect(modes[1]).toBe(true); // "restarting normally" is logged while still read-only
    expect(report.missing).toEqual([]);
    expect(report.reclaimedBytes).toBeGreaterThan(512 * 1024);
    // The image (two tags, an index and two platforms, two layers and two configs) and the push
    // history's two events (a tag, a manifest and a blob each).
    expect(report.verified).toMatchObject({ tags: 2 + 2, manifests: 3 + 2, blobs: 4 + 2 });
    for (const blob of dropped.blobs) expect(await client.blobHead(repo, blob)).toBe('not-found');

    for (const tag of ['v1.0.0', 'latest']) {
      const dest = join(work, `oci-${tag}`);
      await exec('skopeo', ['copy', '--all', '--src-tls-verify=false', `docker://${registry.host}/${repo}:${tag}`, `oci:${dest}:${tag}`]);
      const { stdout } = await exec('skopeo', ['inspect', '--raw', `oci:${dest}:${tag}`]);
      expect(JSON.parse(stdout).manifests).toHaveLength(2);
    }
    const { stdout } = await exec('skopeo', ['inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${registry.host}/${repo}:v1.0.0`]);
    expect(JSON.parse(stdout).Architecture).toBe('arm64');
  });

  it('refuses pushes while read-only', async () => {
    const client = createRegistryClient({ registry: registry.host, retry: { attempts: 1 } });
    await control.startReadOnly();
    try {
      await expect(pushTestImage(client, 'auren/ro')).rejects.toThrow();
    } finally {
      await control.startNormal();
    }
    await expect(pushTestImage(client, 'auren/ro')).resolves.toBeDefined();
  });

  it.each([
    ['127.0.0.1:5000', 'local'],
    ['registry.digitalocean.com', 'digitalocean'],
    ['ghcr.io', 'github'],
    ['docker.io', 'docker-hub'],
    ['registry.example.com', 'distribution'],
  ])('%s is a %s registry', (host, kind) => {
    expect(registryKind(host)).toBe(kind);
    expect(gcAdvice(host, false).message.length).toBeGreaterThan(10);
  });
});
