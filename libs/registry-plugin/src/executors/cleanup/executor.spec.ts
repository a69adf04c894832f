import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { createRegistryClient } from '../../lib/registry/client';
import { pushTestImage, recordPushed, tagManifest } from '../../lib/retention/images.testing';
import cleanupExecutor from './executor';
import restoreExecutor from '../restore/executor';
// The workspace's schema tests and this one read a schema.d.ts the same way: through the
// re-export to the options type the use case owns.
import { schemaOptions } from '../../../../../tools/workspace-tests/src/schema-options';

const OLD = '2024-01-15T00:00:00Z';

describe('cleanup, restore and gc executors', () => {
  const upkeep = ['cleanup', 'restore', 'gc'];
  const declarations = (name: string) => join(__dirname, '..', name, 'schema.d.ts');
  // Read once, on the first schema test, so that the registry tests alone do not parse the plugin.
  let declared: ReturnType<typeof schemaOptions> | undefined;
  const optionsOf = (name: string) => {
    declared ??= schemaOptions(upkeep.map(declarations), join(__dirname, '..', '..', '..'));
    return (declared.get(declarations(name)) ?? []).map((option) => option.name);
  };

  it.each(upkeep)('%s: schema.json and schema.d.ts list the same options, each described', (name) => {
    const schema = JSON.parse(readFileSync(join(__dirname, '..', name, 'schema.json'), 'utf8'));
    expect(schema.additionalProperties).toBe(false);
    const keys = Object.keys(schema.properties);
    expect(optionsOf(name).sort()).toEqual([...keys].sort());
    for (const key of keys) {
      expect(key).toMatch(/^[a-z][A-Za-z]*$/);
      expect(schema.properties[key].description.length).toBeGreaterThan(10);
    }
  });

  describe('against a real registry', () => {
    let registry: TestRegistry;
    let root: string;
    const env = { ...process.env };
    beforeAll(async () => {
      registry = await startTestRegistry();
      root = mkdtempSync(join(tmpdir(), 'auren-cleanup-exec-'));
      process.env.AUREN_REGISTRY = `${registry.host}/auren`;
      delete process.env.NX_DRY_RUN;
    });
    afterAll(async () => {
      process.env = env;
      await registry?.stop();
      rmSync(root, { recursive: true, force: true });
    });
    const context = (options: object = {}): ExecutorContext =>
      ({
        root,
        cwd: root,
        isVerbose: false,
        projectName: 'registry',
        nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options }] },
        projectsConfigurations: { version: 2, projects: {} },
      }) as unknown as ExecutorContext;

    it('is a dry run by default and with NX_DRY_RUN; --apply deletes and journals; restore brings it back', async () => {
      const client = createRegistryClient({ registry: registry.host });
      const keep = await pushTestImage(client, 'auren/exec', { created: OLD });
      await tagManifest(client, 'auren/exec', 'v1.0.0', keep);
      const drop = await pushTestImage(client, 'auren/exec', { created: OLD });
      await tagManifest(client, 'auren/exec', 'dev-old', drop);
      await recordPushed(client, 'auren/exec', drop.digest, OLD);
      const out: string[] = [];
      const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
      try {
        expect(await cleanupExecutor({ repositories: 'exec' }, context())).toEqual({ success: true });
        expect(out.join('')).toMatch(/DELETE dev-old/);
        process.env.NX_DRY_RUN = 'true';
        expect(await cleanupExecutor({ repositories: 'exec', apply: true }, context())).toEqual({ success: true });
        delete process.env.NX_DRY_RUN;
        expect(await client.manifestHead('auren/exec', 'dev-old')).not.toBe('not-found');

        out.length = 0;
        expect(await cleanupExecutor({ repositories: ['auren/exec'], apply: true, json: true }, context())).toEqual({ success: true });
        const result = JSON.parse(out.join(''));
        expect(result.outcomes.map((o: { digest: string }) => o.digest)).toEqual([drop.digest]);
        expect(await client.manifestHead('auren/exec', 'dev-old')).toBe('not-found');
        expect(readdirSync(join(root, '.auren', 'journal')).filter((f) => f.endsWith('.json'))).toHaveLength(1);

        expect(await restoreExecutor({}, context())).toEqual({ success: true });
        const back = await client.manifestHead('auren/exec', 'dev-old');
        expect(back !== 'not-found' && back.digest).toBe(drop.digest);
      } finally {
        write.mockRestore();
      }
    });

    it('plans each app by its own retention override, and deletes in the storage folder when told where it is', async () => {
      const client = createRegistryClient({ registry: registry.host });
      for (const repo of ['auren/svc-a', 'auren/svc-b']) {
        for (const tag of ['v1.0.0', 'v1.1.0', 'v1.2.0']) await tagManifest(client, repo, tag, await pushTestImage(client, repo, { created: OLD }));
      }
      const options = { retention: { keepReleases: 1, overrides: { 'svc-b': { keepReleases: 3 } } } };
      const out: string[] = [];
      const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
      try {
        const run = { repositories: 'svc-a,svc-b', apply: true, json: true, deleteVia: 'storage' as const, storageDir: registry.dataDir, journalDir: 'journal-overrides' };
        expect(await cleanupExecutor(run, context(options))).toEqual({ success: true });
        const result = JSON.parse(out.join(''));
        const deleted = (repo: string) => result.plans.find((p: { repository: string }) => p.repository === repo).tags.filter((t: { action: string }) => t.action === 'delete').map((t: { tag: string }) => t.tag);
        expect(deleted('auren/svc-a').sort()).toEqual(['v1.0.0', 'v1.1.0']);
        expect(deleted('auren/svc-b')).toEqual([]);
        expect(await client.tagList('auren/svc-a')).toEqual(['v1.2.0']);
        expect((await client.tagList('auren/svc-b')).sort()).toEqual(['v1.0.0', 'v1.1.0', 'v1.2.0']);
      } finally {
        write.mockRestore();
      }
    });

    it('fails clearly when told to delete in a storage folder it does not have', async () => {
      const err: string[] = [];
      const spy = jest.spyOn(logger, 'error').mockImplementation((message) => void err.push(String(message)));
      try {
        expect(await cleanupExecutor({ repositories: 'svc-a', apply: true, deleteVia: 'storage' }, context())).toEqual({ success: false });
      } finally {
        spy.mockRestore();
      }
      expect(err.join('')).toMatch(/deleteVia "storage" needs the embedded registry or --storage-dir/);
    });
  });
});
