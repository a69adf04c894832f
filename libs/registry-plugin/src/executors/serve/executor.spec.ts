/**
 * The embedded registry's script ships with the plugin: the `serve` executor and the local garbage
 * collector run it from the package, in a workspace that has no copy of it (no tools/registry).
 * Real Debian docker-registry on a free port, in an empty temporary workspace.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveScriptControl } from '../../lib/retention/gc';
import { LOCAL_REGISTRY_SCRIPT, PACKAGE_ROOT } from '../../lib/package-files';
import { freePort } from '../../testing/registry-server.testing';
import { testExecutorContext } from '../../testing/executor-context.testing';
import serveExecutor, { serveEnv } from './executor';

let workspace: string;
let address: string;

const answers = async () => (await fetch(`http://${address}/v2/`).then((r) => r.status, () => 0)) === 200;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'auren-serve-'));
  address = `127.0.0.1:${await freePort()}`;
});

afterEach(async () => {
  // Stops a registry a failed assertion left running (its pid file is in the workspace).
  await serveExecutor({ action: 'stop', address }, testExecutorContext({ root: workspace }));
  await rm(workspace, { recursive: true, force: true });
});

describe('the local registry script ships with the plugin', () => {
  it('is a file of the package, not of the workspace', () => {
    expect(LOCAL_REGISTRY_SCRIPT).toBe(join(PACKAGE_ROOT, 'scripts', 'local-registry.sh'));
    expect(existsSync(LOCAL_REGISTRY_SCRIPT)).toBe(true);
    expect(existsSync(join(PACKAGE_ROOT, 'scripts', 'local-registry.yml'))).toBe(true);
    expect(existsSync(join(PACKAGE_ROOT, 'package.json'))).toBe(true);
  });

  it('serve detaches, reports its status and stops, in a workspace without tools/registry', async () => {
    const context = testExecutorContext({ root: workspace });
    expect(await serveExecutor({ action: 'status', address }, context)).toEqual({ success: false });
    expect(await serveExecutor({ action: 'detach', address }, context)).toEqual({ success: true });
    expect(await answers()).toBe(true);
    // Data, configuration and pid file live in the workspace's .auren/registry.
    expect(existsSync(join(workspace, '.auren', 'registry', 'registry.pid'))).toBe(true);
    expect(existsSync(join(workspace, '.auren', 'registry', 'config.yml'))).toBe(true);
    expect(await serveExecutor({ action: 'status', address }, context)).toEqual({ success: true });
    expect(await serveExecutor({ action: 'stop', address }, context)).toEqual({ success: true });
    expect(await answers()).toBe(false);
  });

  it("garbage collection's controller restarts the workspace's registry with the packaged script", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, AUREN_LOCAL_REGISTRY_ADDR: address };
    delete env.AUREN_LOCAL_REGISTRY_DIR;
    const control = serveScriptControl({ workspaceRoot: workspace, env });
    expect(control.dataDir).toBe(join(workspace, '.auren', 'registry', 'data'));
    expect(await control.isRunning()).toBe(false);
    await control.startReadOnly();
    expect(await control.isRunning()).toBe(true);
    await control.startNormal();
    expect(await answers()).toBe(true);
    await control.stop();
    expect(await control.isRunning()).toBe(false);
  });

  it('the environment wins over the options (the one precedence rule); a relative data folder is in the workspace', () => {
    const env = serveEnv({ address: '127.0.0.1:5999', dataDir: 'tmp/reg' }, '/ws', { AUREN_LOCAL_REGISTRY_ADDR: '127.0.0.1:5000', AUREN_LOCAL_REGISTRY_DIR: '/elsewhere' });
    expect(env).toMatchObject({ AUREN_WORKSPACE_ROOT: '/ws', AUREN_LOCAL_REGISTRY_ADDR: '127.0.0.1:5000', AUREN_LOCAL_REGISTRY_DIR: '/elsewhere' });
    expect(serveEnv({ address: '127.0.0.1:5999', dataDir: 'tmp/reg' }, '/ws', {})).toMatchObject({ AUREN_LOCAL_REGISTRY_ADDR: '127.0.0.1:5999', AUREN_LOCAL_REGISTRY_DIR: '/ws/tmp/reg' });
    expect(serveEnv({}, '/ws', { AUREN_LOCAL_REGISTRY_DIR: '/elsewhere' }).AUREN_LOCAL_REGISTRY_DIR).toBe('/elsewhere');
  });
});
