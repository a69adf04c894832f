import { readNxJson, readProjectConfiguration, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { PLUGIN_NAME } from '../init/generator';
import { baseImageGenerator } from '../base-image/generator';
import generate, { dockerAppGenerator, validateAppName } from './generator';

describe('docker-app generator', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
  });

  it('adds the app: project.json, multi-stage non-root Dockerfile, .dockerignore, site and README', async () => {
    await dockerAppGenerator(tree, { name: 'auren-reports', tags: 'scope:auren, lang:static' });

    expect(readProjectConfiguration(tree, 'auren-reports')).toMatchObject({
      name: 'auren-reports',
      root: 'apps/auren-reports',
      projectType: 'application',
      tags: ['type:app', 'runtime:container', 'scope:auren', 'lang:static'],
    });

    const dockerfile = tree.read('apps/auren-reports/Dockerfile', 'utf8')!;
    const lines = dockerfile.split('\n').filter((l) => l && !l.startsWith('#'));
    // The plugin maps public base images through this argument, so it must come first.
    expect(lines[0]).toBe('ARG BASE_IMAGE=debian:bookworm-slim');
    expect(lines.filter((l) => l.startsWith('FROM '))).toEqual(['FROM ${BASE_IMAGE} AS build', 'FROM ${BASE_IMAGE} AS runtime']);
    expect(lines.filter((l) => l.startsWith('USER '))).toEqual(['USER 10001:10001']);
    expect(dockerfile).toContain('EXPOSE 8080');
    expect(dockerfile).toContain('CMD ["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0", "--directory", "/srv"]');
    expect(dockerfile).not.toContain('<%');

    expect(tree.read('apps/auren-reports/.dockerignore', 'utf8')).toMatch(/^\*\n!site\/\n$/m);
    expect(tree.read('apps/auren-reports/site/index.html', 'utf8')).toContain('<h1>auren-reports</h1>');
    expect(tree.read('apps/auren-reports/site/health', 'utf8')).toBe('ok\n');
    expect(tree.read('apps/auren-reports/README.md', 'utf8')).toContain('npx nx run auren-reports:docker-build');
    expect(tree.children('apps/auren-reports').sort()).toEqual(['.dockerignore', 'Dockerfile', 'README.md', 'project.json', 'site']);
  });

  it('depends on no base image project when the workspace has none: naming a missing project breaks every nx command', async () => {
    await dockerAppGenerator(tree, { name: 'hello' });
    expect(readProjectConfiguration(tree, 'hello').implicitDependencies).toBeUndefined();
  });

  it("depends on the workspace's base image project, whatever its name, so a new base rebuilds the app", async () => {
    await baseImageGenerator(tree, { name: 'debian-base', directory: 'images/debian' });
    await dockerAppGenerator(tree, { name: 'hello' });
    expect(readProjectConfiguration(tree, 'hello').implicitDependencies).toEqual(['debian-base']);
    // nx.json maps the Dockerfile's default base to it.
    const dockerfile = tree.read('apps/hello/Dockerfile', 'utf8')!;
    const entry = (readNxJson(tree)!.plugins ?? []).find((p) => typeof p !== 'string' && p.plugin === PLUGIN_NAME) as { options: { baseImages: Record<string, string> } };
    expect(dockerfile).toContain('ARG BASE_IMAGE=debian:bookworm-slim');
    expect(entry.options.baseImages['debian:bookworm-slim']).toBe('{registry}/{namespace}/base-debian:bookworm');
  });

  it('uses the port and directory it is given', async () => {
    await dockerAppGenerator(tree, { name: 'reports', directory: 'services', port: 9000 });
    expect(readProjectConfiguration(tree, 'reports').root).toBe('services/reports');
    expect(tree.read('services/reports/Dockerfile', 'utf8')).toContain('EXPOSE 9000');
  });

  it('registers the plugin, once', async () => {
    await dockerAppGenerator(tree, { name: 'one' });
    await dockerAppGenerator(tree, { name: 'two' });
    const plugins = (readNxJson(tree)!.plugins ?? []).filter((p) => (typeof p === 'string' ? p : p.plugin) === PLUGIN_NAME);
    expect(plugins).toHaveLength(1);
  });

  it('refuses an existing project or folder', async () => {
    await dockerAppGenerator(tree, { name: 'one' });
    await expect(dockerAppGenerator(tree, { name: 'one' })).rejects.toThrow('a project named "one" already exists');
    tree.write('apps/two/notes.txt', 'x');
    await expect(dockerAppGenerator(tree, { name: 'two' })).rejects.toThrow('apps/two already exists');
  });

  it('puts the hint in the message Nx prints', async () => {
    await expect(generate(tree, { name: 'Reports' })).rejects.toThrow(
      /^invalid application name "Reports"\n  → The name is also the image repository name/,
    );
  });

  it('refuses a port a non-root user cannot bind', async () => {
    await expect(dockerAppGenerator(tree, { name: 'low', port: 80 })).rejects.toThrow('invalid port 80');
  });

  it.each(['auren-api', 'a', 'reports2', 'my_app', 'my__app', 'my.app', 'a--b'])('accepts the name %s', (name) => {
    expect(validateAppName(name)).toBe(name);
  });

  it.each(['Auren', 'my app', '-app', 'app-', 'a___b', 'a/b', '', 'app.', 'ünï', 'a'.repeat(129)])('rejects the name %j with a clear error', (name) => {
    expect(() => validateAppName(name)).toThrow(expect.objectContaining({ message: `invalid application name "${name}"`, hint: expect.stringContaining('lower-case letters and digits') }));
  });
});
