import { readNxJson, updateNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { normalizeOptions } from '../../lib/config/options';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseImageGenerator } from '../base-image/generator';
import { initGenerator, PLUGIN_NAME, resolveRegistry } from './generator';

const entries = (tree: Tree) => (readNxJson(tree)?.plugins ?? []).filter((p) => (typeof p === 'string' ? p : p.plugin) === PLUGIN_NAME);

describe('init generator', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
  });

  it('registers the plugin with default options that normalise cleanly', async () => {
    await initGenerator(tree, {}, {});
    const [entry] = entries(tree);
    expect(entry).toMatchObject({ plugin: PLUGIN_NAME, options: { registry: '127.0.0.1:5000', namespace: 'auren' } });
    const config = normalizeOptions((entry as { options: object }).options, {});
    expect(config.scan.scanner).toBe('trivy');
    expect(config.budgets).toEqual({ warnBytes: 500_000_000, failBytes: 1_000_000_000 });
  });

  it('maps no base image when the workspace builds none: a mapping to an image nothing builds breaks every build', async () => {
    await initGenerator(tree, {}, {});
    expect(normalizeOptions((entries(tree)[0] as { options: object }).options, {}).baseImages).toEqual({});
  });

  it('maps debian:bookworm-slim to what the base image project pushes, when there is one', async () => {
    await baseImageGenerator(tree, { repository: 'debian-base' });
    const entry = entries(tree)[0] as { options: object };
    expect(normalizeOptions(entry.options, {}).baseImages).toEqual({ 'debian:bookworm-slim': '127.0.0.1:5000/auren/debian-base:bookworm' });
    // The placeholders stay, so AUREN_REGISTRY moves the base image with everything else.
    expect(normalizeOptions(entry.options, { AUREN_REGISTRY: 'ghcr.io/acme' }).baseImages).toEqual({ 'debian:bookworm-slim': 'ghcr.io/acme/debian-base:bookworm' });
  });

  it('takes registry and namespace from AUREN_REGISTRY when no option names them (nx add passes none)', async () => {
    await initGenerator(tree, {}, { AUREN_REGISTRY: '127.0.0.1:41234/acme/platform' });
    expect(entries(tree)[0]).toMatchObject({ options: { registry: '127.0.0.1:41234', namespace: 'acme/platform' } });
  });

  it('options win over AUREN_REGISTRY; an empty answer to a prompt means the default', async () => {
    expect(resolveRegistry({ registry: 'ghcr.io', namespace: 'acme' }, { AUREN_REGISTRY: '127.0.0.1:5001/x' })).toEqual({ registry: 'ghcr.io', namespace: 'acme' });
    expect(resolveRegistry({ registry: ' ', namespace: '' }, {})).toEqual({ registry: '127.0.0.1:5000', namespace: 'auren' });
    expect(resolveRegistry({ namespace: '' }, { AUREN_REGISTRY: 'registry.example.com/team' })).toEqual({ registry: 'registry.example.com', namespace: 'team' });
    expect(() => resolveRegistry({}, { AUREN_REGISTRY: 'https://ghcr.io' })).toThrow(/AUREN_REGISTRY/);
  });

  it('keeps the local registry data and cleanup journals out of git, once', async () => {
    tree.write('.gitignore', 'node_modules\ndist');
    await initGenerator(tree, {}, {});
    await initGenerator(tree, {}, {});
    expect(tree.read('.gitignore', 'utf8')!.split('\n').filter((l) => l === '.auren/')).toHaveLength(1);
    expect(tree.read('.gitignore', 'utf8')).toMatch(/^node_modules\ndist\n/);
  });

  it('prompts for the registry and namespace, with no schema default hiding AUREN_REGISTRY', () => {
    const schema = JSON.parse(readFileSync(join(__dirname, 'schema.json'), 'utf8'));
    for (const key of ['registry', 'namespace']) {
      expect(schema.properties[key]['x-prompt']).toEqual(expect.any(String));
      expect(schema.properties[key].default).toBeUndefined();
    }
  });

  it('is idempotent and keeps existing options and other plugins', async () => {
    const nxJson = readNxJson(tree)!;
    nxJson.plugins = ['@nx/js/typescript', { plugin: PLUGIN_NAME, options: { registry: 'ghcr.io', namespace: 'acme' } }];
    updateNxJson(tree, nxJson);
    await initGenerator(tree, {}, {});
    await initGenerator(tree, { registry: 'registry.example.com' }, {});
    expect(readNxJson(tree)!.plugins).toEqual(['@nx/js/typescript', { plugin: PLUGIN_NAME, options: { registry: 'ghcr.io', namespace: 'acme' } }]);
  });

  it('recognises a plugin registered as a bare string', async () => {
    updateNxJson(tree, { ...readNxJson(tree), plugins: [PLUGIN_NAME] });
    await initGenerator(tree, {}, {});
    expect(readNxJson(tree)!.plugins).toEqual([PLUGIN_NAME]);
  });

  it('writes the registry and namespace it is given', async () => {
    await initGenerator(tree, { registry: 'registry.digitalocean.com', namespace: 'acme/auren' }, {});
    expect(entries(tree)[0]).toMatchObject({ options: { registry: 'registry.digitalocean.com', namespace: 'acme/auren' } });
  });

  it.each([
    [{ registry: 'https://ghcr.io' }, 'invalid registry address "https://ghcr.io" (from --registry)'],
    [{ namespace: 'Acme' }, 'invalid registry namespace "Acme" (from --namespace)'],
  ])('rejects %j', async (schema, message) => {
    await expect(initGenerator(tree, schema, {})).rejects.toThrow(message);
    expect(entries(tree)).toEqual([]);
  });
});
