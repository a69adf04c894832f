import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { TestRegistry } from '../../testing/registry-server.testing';
import type { LocalRegistryControl } from './gc';

/**
 * `LocalRegistryControl` over a `TestRegistry`, for GC tests. Two quirks of the test helper:
 * - `restart(extraConfig)` appends YAML at the top level, and distribution rejects a second
 *   top-level `storage:` key, so read-only mode needs its own configuration file;
 * - `restart()` after `stop()` waits forever: a child killed by a signal keeps `exitCode` null
 *   (reported to the owner of registry-server.testing.ts).
 * So on the first switch this control stops the test registry once and from then on runs
 * `docker-registry` itself, on the same port and data; `dispose()` ends it and removes the
 * registry's folder (call it instead of `registry.stop()`).
 */
export interface TestRegistryControl extends LocalRegistryControl {
  readOnlyActive(): boolean;
  dispose(): Promise<void>;
}

export function testRegistryControl(registry: TestRegistry): TestRegistryControl {
  let child: ChildProcess | undefined;
  let tookOver = false;
  let readonly = false;
  const roConfig = `${registry.configPath}.readonly.yml`;

  const waitPort = async (proc: ChildProcess) => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error('docker-registry exited while starting');
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(registry.port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('docker-registry did not listen');
  };
  const end = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  };
  const start = async (ro: boolean) => {
    if (!tookOver) {
      await registry.stop({ keepData: true });
      tookOver = true;
    }
    await end();
    let config = registry.configPath;
    if (ro) {
      writeFileSync(roConfig, readFileSync(registry.configPath, 'utf8').replace(/^storage:\n/m, 'storage:\n  maintenance:\n    readonly:\n      enabled: true\n'));
      config = roConfig;
    }
    const proc = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
    child = proc;
    await waitPort(proc);
    readonly = ro;
  };
  return {
    dataDir: registry.dataDir,
    configPath: () => registry.configPath,
    readOnlyActive: () => readonly,
    isRunning: async () => !tookOver || child !== undefined,
    startReadOnly: () => start(true),
    startNormal: () => start(false),
    stop: end,
    async dispose() {
      await end();
      if (tookOver) rmSync(dirname(registry.configPath), { recursive: true, force: true });
      else await registry.stop();
    },
  };
}
