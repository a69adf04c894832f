import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot, listFiles, workspaceRoot } from './workspace';

interface ProjectJson {
  name?: string;
  targets?: Record<string, { executor?: string; options?: { command?: string } }>;
}

/**
 * Every project's `typecheck` target, as the pull-request workflow runs it (`nx affected -t
 * typecheck`). Jest compiles each spec without checking its types, so without this a type error
 * in a test helper would pass every test here and fail only on the pull request.
 */
const typechecks = ['apps', 'libs', 'tools']
  .flatMap((dir) => listFiles(fromRoot(dir), /.*/))
  .map((dir) => join(dir, 'project.json'))
  .flatMap((file) => {
    let project: ProjectJson;
    try {
      project = JSON.parse(readFileSync(file, 'utf8')) as ProjectJson;
    } catch {
      return [];
    }
    const command = project.targets?.typecheck?.options?.command;
    return command ? [{ name: project.name ?? file, command }] : [];
  });

describe('typecheck', () => {
  it('the plugin and the workflow runner have a typecheck target', () => {
    expect(typechecks.map((t) => t.name)).toEqual(expect.arrayContaining(['registry-plugin', 'workflow-runner']));
  });

  it.each(typechecks.map((t) => [t.name, t.command]))('%s: `%s` finds no type error', (_name, command) => {
    const [tool, ...args] = command.split(/\s+/);
    expect(tool).toBe('tsc');
    try {
      execFileSync(join(workspaceRoot, 'node_modules', '.bin', 'tsc'), args, { cwd: workspaceRoot, encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`${command} failed:\n${stdout ?? ''}${stderr ?? ''}`);
    }
  });
});
