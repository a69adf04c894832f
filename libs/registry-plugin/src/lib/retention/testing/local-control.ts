import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { TestRegistry } from '../../../testing/registry-server';
import type { LocalRegistryControl } from '../gc';

/**
 * `LocalRegistryControl` over a `TestRegistry`. Its `restart(extraConfig)` appends YAML at the top
 * level, and a second top-level `storage:` key is rejected by distribution's config parser, so
 * read-only mode runs our own `docker-registry` on the same port and data, with
 * `storage.maintenance.readonly.enabled: true` inserted into the test registry's own config.
 */
export function testRegistryControl(registry: TestRegistry): LocalRegistryControl & { readOnlyActive(): boolean } {
  let readonlyChild: ChildProcess | undefined;
  let running = true;
  const roConfig = `${registry.configPath}.readonly.yml`;

  const waitPort = async () => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (readonlyChild && readonlyChild.exitCode !== null) throw new Error(`read-only docker-registry exited (${readonlyChild.exitCode})`);
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(registry.port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('read-only docker-registry did not listen');
  };
  const stopReadonly = async () => {
    const child = readonlyChild;
    readonlyChild = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  };

  return {
    dataDir: registry.dataDir,
    configPath: () => registry.configPath,
    readOnlyActive: () => readonlyChild !== undefined,
    isRunning: async () => running,
    async startReadOnly() {
      await stopReadonly();
      await registry.stop({ keepData: true });
      const config = readFileSync(registry.configPath, 'utf8').replace(/^storage:\n/m, 'storage:\n  maintenance:\n    readonly:\n      enabled: true\n');
      writeFileSync(roConfig, config);
      readonlyChild = spawn('docker-registry', ['serve', roConfig], { stdio: 'ignore' });
      await waitPort();
      running = true;
    },
    async startNormal() {
      await stopReadonly();
      await registry.restart();
      running = true;
    },
    async stop() {
      await stopReadonly();
      await registry.stop({ keepData: true });
      running = false;
    },
  };
}
