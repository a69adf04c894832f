import type { ExecutorContext, Task, TaskGraph } from '@nx/devkit';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dependencyOrder } from '../../lib/exec/batch';
import { batchImageExecutor, checkStep } from './executor';
import schema from './schema.json';
import type { ImageExecutorSchema } from './schema';

/**
 * The image executor's own logic: which options each step takes, the order of a batch
 * (shared/batch.ts, docker-push's too) and what a batch does when a task fails. Builds and scans
 * through it run in the e2e suites (pipeline.spec, machines.spec), where Nx itself starts the batch.
 */

const task = (project: string, target: string): Task => ({ id: `${project}:${target}`, target: { project, target }, overrides: {}, outputs: [], parallelism: true }) as unknown as Task;

function graph(deps: Record<string, string[]>): TaskGraph {
  const tasks = Object.fromEntries(Object.keys(deps).map((id) => [id, task(...(id.split(':') as [string, string]))]));
  return { roots: [], tasks, dependencies: deps, continuousDependencies: {} } as unknown as TaskGraph;
}

describe('image executor options', () => {
  it('every option but step belongs to exactly one step', () => {
    for (const [name, property] of Object.entries(schema.properties)) {
      if (name === 'step') continue;
      expect([name, (property as { 'x-step'?: string })['x-step']]).toEqual([name, expect.stringMatching(/^(build|scan)$/)]);
    }
  });

  it('takes the options of its own step', () => {
    expect(checkStep({ step: 'scan', severity: ['CRITICAL'], allowRootUser: true })).toBe('scan');
    expect(checkStep({ step: 'build', platforms: 'linux/amd64', rebuild: true })).toBe('build');
  });

  it('refuses an option of another step, naming the target it belongs to', () => {
    expect(() => checkStep({ step: 'build', scanner: 'grype' })).toThrow('--scanner is an option of scan, not of docker-build');
    expect(() => checkStep({ step: 'scan', rebuild: true, tags: 'x' } as Partial<ImageExecutorSchema>)).toThrow('--rebuild is an option of docker-build; --tags is not an option of docker-build or scan, not of scan');
  });

  it('refuses a target without a step', () => {
    expect(() => checkStep({} as ImageExecutorSchema)).toThrow(/needs the option step/);
    expect(() => checkStep({ step: 'deploy' } as unknown as ImageExecutorSchema)).toThrow(/"deploy"/);
  });
});

describe('image batch', () => {
  it('orders the tasks after their dependencies in the batch', () => {
    const order = dependencyOrder(
      graph({
        'api:docker-push': ['api:scan'],
        'api:scan': ['api:docker-build'],
        'api:docker-build': ['base:docker-push'],
        'base:docker-push': [],
      }),
    ).map((t: Task) => t.id);
    expect(order).toEqual(['base:docker-push', 'api:docker-build', 'api:scan', 'api:docker-push']);
  });

  it('refuses a cycle', () => {
    expect(() => dependencyOrder(graph({ 'a:scan': ['a:docker-build'], 'a:docker-build': ['a:scan'] }))).toThrow(/cycle/);
  });

  describe('when a task fails', () => {
    let root: string;
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'auren-image-batch-'));
    });
    afterAll(async () => {
      await rm(root, { recursive: true, force: true });
      process.exitCode = 0;
    });

    it('skips what depends on it, runs the rest, and returns each task’s own output', async () => {
      const taskGraph = graph({ 'api:docker-build': [], 'api:scan': ['api:docker-build'], 'nginx:scan': [] });
      const projects = Object.fromEntries(['api', 'nginx'].map((name) => [name, { root: `apps/${name}`, targets: {} }]));
      const context = {
        root,
        cwd: root,
        isVerbose: false,
        nxJsonConfiguration: { plugins: [{ plugin: '@auren/registry-plugin', options: { registry: '127.0.0.1:5000', namespace: 'auren' } }] },
        projectsConfigurations: { version: 2, projects },
        projectGraph: { nodes: {}, dependencies: {} },
        taskGraph,
      } as unknown as ExecutorContext;
      const inputs: Record<string, ImageExecutorSchema> = {
        'api:docker-build': { step: 'build', allowRootUser: true },
        'api:scan': { step: 'scan' },
        'nginx:scan': { step: 'scan' },
      };
      process.exitCode = 0;
      // Outside Jest, console writes to the process's streams, where the batch collects each task's output.
      const spies = (['info', 'warn', 'error'] as const).map((method) =>
        jest.spyOn(console, method).mockImplementation((...args: unknown[]) => void process.stderr.write(`${args.map(String).join(" ")}\n`)),
      );
      const results = [];
      for await (const result of batchImageExecutor(taskGraph, inputs, { step: 'scan' }, context)) results.push(result);
      spies.forEach((spy) => spy.mockRestore());

      expect(results.map((r) => [r.task, r.result.status ?? (r.result.success ? 'success' : 'failure')])).toEqual([
        ['api:docker-build', 'failure'],
        ['api:scan', 'skipped'],
        ['nginx:scan', 'failure'],
      ]);
      expect(results[0].result.terminalOutput).toContain('--allowRootUser is an option of scan, not of docker-build');
      expect(results[1].result.terminalOutput).toContain('api:docker-build failed');
      expect(results[2].result.terminalOutput).toContain(`nginx: no built image at ${join(root, 'dist/images/nginx/image.json')}`);
      expect(results[2].result.terminalOutput).not.toContain('--allowRootUser');
      // A failed task does not end the batch process with its exit code.
      expect(process.exitCode).toBe(0);
    });
  });
});
