import { readJson, readProjectConfiguration, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PLUGIN_NAME } from '../../lib/config/options';
import generate, { registryGenerator } from './generator';

const PLUGIN_ROOT = resolve(__dirname, '../../..');
const WORKSPACE_ROOT = resolve(PLUGIN_ROOT, '../..');
/** Every registry:* target the README documents. */
const UPKEEP = ['serve', 'login', 'cleanup', 'restore', 'gc', 'monitor', 'trivy-db', 'mirror', 'deploy-manifest', 'kubernetes-manifest'];

describe('registry generator', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
  });

  it("makes this repository's tools/registry/project.json: the repository dogfoods the generator", async () => {
    await registryGenerator(tree, {});
    expect(tree.read('tools/registry/project.json', 'utf8')).toBe(readFileSync(join(WORKSPACE_ROOT, 'tools/registry/project.json'), 'utf8'));
    expect(tree.children('tools/registry')).toEqual(['project.json']);
  });

  it("has every upkeep target, each run by one of the plugin's executors (no script in the workspace)", async () => {
    await registryGenerator(tree, {});
    const targets = readProjectConfiguration(tree, 'registry').targets!;
    expect(Object.keys(targets).sort()).toEqual([...UPKEEP].sort());
    const executors = JSON.parse(readFileSync(join(PLUGIN_ROOT, 'executors.json'), 'utf8')).executors;
    for (const [name, target] of Object.entries(targets)) {
      const [plugin, executor] = target.executor!.split(':');
      expect({ name, plugin, known: executor in executors }).toEqual({ name, plugin: PLUGIN_NAME, known: true });
    }
    expect(targets.serve).toMatchObject({ continuous: true, configurations: { detach: { action: 'detach' }, stop: { action: 'stop' } } });
  });

  it('registers the plugin, and takes another name and folder', async () => {
    await registryGenerator(tree, { name: 'oci', directory: 'ops/oci' });
    expect(readProjectConfiguration(tree, 'oci').root).toBe('ops/oci');
    expect(readJson(tree, 'nx.json').plugins).toEqual([expect.objectContaining({ plugin: PLUGIN_NAME })]);
  });

  it('refuses an existing project', async () => {
    await registryGenerator(tree, {});
    await expect(generate(tree, {})).rejects.toThrow(/^a project named "registry" already exists\n {2}→ Choose another name/);
  });
});
