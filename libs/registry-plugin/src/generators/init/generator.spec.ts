import { readNxJson, updateNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { normalizeOptions } from '../../lib/config/options';
import { initGenerator, PLUGIN_NAME } from './generator';

const entries = (tree: Tree) => (readNxJson(tree)?.plugins ?? []).filter((p) => (typeof p === 'string' ? p : p.plugin) === PLUGIN_NAME);

describe('init generator', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
  });

  it('registers the plugin with default options that normalise cleanly', async () => {
    await initGenerator(tree, {});
    const [entry] = entries(tree);
    expect(entry).toMatchObject({ plugin: PLUGIN_NAME, options: { registry: '127.0.0.1:5000', namespace: 'auren' } });
    const config = normalizeOptions((entry as { options: object }).options, {});
    expect(config.baseImages).toEqual({ 'debian:bookworm-slim': '127.0.0.1:5000/base/debian:bookworm' });
    expect(config.scan.scanner).toBe('trivy');
  });

  it('is idempotent and keeps existing options and other plugins', async () => {
    const nxJson = readNxJson(tree)!;
    nxJson.plugins = ['@nx/js/typescript', { plugin: PLUGIN_NAME, options: { registry: 'ghcr.io', namespace: 'acme' } }];
    updateNxJson(tree, nxJson);
    await initGenerator(tree, {});
    await initGenerator(tree, { registry: 'registry.example.com' });
    expect(readNxJson(tree)!.plugins).toEqual(['@nx/js/typescript', { plugin: PLUGIN_NAME, options: { registry: 'ghcr.io', namespace: 'acme' } }]);
  });

  it('recognises a plugin registered as a bare string', async () => {
    updateNxJson(tree, { ...readNxJson(tree), plugins: [PLUGIN_NAME] });
    await initGenerator(tree, {});
    expect(readNxJson(tree)!.plugins).toEqual([PLUGIN_NAME]);
  });

  it('writes the registry and namespace it is given', async () => {
    await initGenerator(tree, { registry: 'registry.digitalocean.com', namespace: 'acme/auren' });
    expect(entries(tree)[0]).toMatchObject({ options: { registry: 'registry.digitalocean.com', namespace: 'acme/auren' } });
  });

  it.each([
    [{ registry: 'https://ghcr.io' }, 'invalid registry address "https://ghcr.io" (from --registry)'],
    [{ namespace: 'Acme' }, 'invalid registry namespace "Acme" (from --namespace)'],
  ])('rejects %j', async (schema, message) => {
    await expect(initGenerator(tree, schema)).rejects.toThrow(message);
    expect(entries(tree)).toEqual([]);
  });
});
