import { readNxJson, readProjectConfiguration, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PLUGIN_NAME } from '../../lib/config/options';
import generate, { baseImageGenerator } from './generator';

const WORKSPACE_ROOT = resolve(__dirname, '../../../../..');
const pluginOptions = (tree: Tree) =>
  ((readNxJson(tree)!.plugins ?? []).find((p) => typeof p !== 'string' && p.plugin === PLUGIN_NAME) as { options: { baseImages: Record<string, string> } }).options;

describe('base-image generator', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
  });

  it("makes this repository's tools/base-image, file for file: the repository dogfoods the generator", async () => {
    await baseImageGenerator(tree, {});
    const dir = join(WORKSPACE_ROOT, 'tools/base-image');
    const onDisk = readdirSync(dir).sort();
    expect(tree.children('tools/base-image').sort()).toEqual(onDisk);
    for (const file of onDisk) {
      expect({ file, content: tree.read(`tools/base-image/${file}`, 'utf8') }).toEqual({ file, content: readFileSync(join(dir, file), 'utf8') });
    }
    // The scripts keep their mode (they also run as `bash <file>`).
    for (const file of ['build-rootfs.sh', 'check-reproducible.sh', 'customize-rootfs.sh']) {
      expect({ file, executable: (statSync(join(dir, file)).mode & 0o111) !== 0 }).toEqual({ file, executable: true });
    }
  });

  it('adds the project, the scripts with their paths, and maps debian:bookworm-slim to it', async () => {
    await baseImageGenerator(tree, { name: 'debian', directory: 'images/debian', repository: 'debian-base', platforms: 'linux/amd64', packages: 'ca-certificates, tzdata' });
    const project = readProjectConfiguration(tree, 'debian');
    expect(project).toMatchObject({ root: 'images/debian', tags: ['type:base-image'] });
    expect(project.targets!.rootfs.options.command).toBe('bash images/debian/build-rootfs.sh --platforms=linux/amd64');
    expect(project.targets!.rootfs.outputs).toEqual(['{workspaceRoot}/dist/debian']);
    expect(project.targets!['docker-build'].options).toEqual({ context: 'dist/debian', platforms: ['linux/amd64'], prebuild: ['bash', 'images/debian/build-rootfs.sh', '--platforms=linux/amd64'] });
    expect(project.targets!['docker-push'].options).toEqual({ repository: 'debian-base', extraTags: ['bookworm'] });
    const script = tree.read('images/debian/build-rootfs.sh', 'utf8')!;
    expect(script).toContain('ROOT="$(cd "$HERE/../../" && pwd)"');
    expect(script).toContain('OUT="dist/debian"');
    expect(script).toContain('git log -1 --format=%ct -- images/debian ');
    expect(script).not.toMatch(/<%|tools\/base-image|tools\/scripts/);
    expect(tree.read('images/debian/packages.txt', 'utf8')).toMatch(/\nca-certificates\ntzdata\n$/);
    expect(tree.read('images/debian/Dockerfile', 'utf8')).toContain('# Its build context is dist/debian:');
    expect(pluginOptions(tree).baseImages).toEqual({ 'debian:bookworm-slim': '{registry}/{namespace}/debian-base:bookworm' });
  });

  it('keeps the other mappings and options of a registered plugin', async () => {
    tree.write('nx.json', JSON.stringify({ plugins: [{ plugin: PLUGIN_NAME, options: { registry: 'ghcr.io', namespace: '', baseImages: { 'python:3.11-slim': 'ghcr.io/mirror/python:3.11-slim' } } }] }));
    await baseImageGenerator(tree, {});
    expect(pluginOptions(tree)).toEqual({
      registry: 'ghcr.io',
      namespace: '',
      baseImages: { 'python:3.11-slim': 'ghcr.io/mirror/python:3.11-slim', 'debian:bookworm-slim': '{registry}/base-debian:bookworm' },
    });
  });

  it('refuses a second base image project', async () => {
    await baseImageGenerator(tree, {});
    await expect(baseImageGenerator(tree, { name: 'other' })).rejects.toThrow('the workspace already has a base image project, "base-image"');
  });

  it.each([
    [{ platforms: 'linux/amd64,windows/amd64' }, /^no Debian bookworm port for platform "windows\/amd64"\n {2}→ Use platforms from/],
    [{ packages: 'ca-certificates;rm -rf /' }, /^invalid Debian package name "ca-certificates;rm -rf \/"/],
    [{ repository: 'Base' }, /^invalid repository "Base"/],
    [{ name: 'Base Image' }, /^invalid project name "Base Image"/],
  ])('rejects %j with a hint', async (schema, message) => {
    await expect(generate(tree, schema)).rejects.toThrow(message);
    expect(tree.exists('tools/base-image')).toBe(false);
  });
});
