// @auren-test-tools trivy (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * A scan verdict made without a scanner is never replayed once the scanner is there: real Nx, a
 * real clone, the Nx daemon on and off. Each run starts with no trivy on PATH (the folder on PATH
 * is empty), scans (not scanned), then trivy appears in that same folder, as when setup builds it
 * while `npm start` runs: the next scan must run, not come from the cache.
 */
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { which } from '../lib/exec/exec';
import { startTestRegistry, type TestRegistry } from '../testing/registry-server.testing';
import { cloneWorkspace, type WorkspaceClone } from './workspace.testing';

const CACHED = /nx run mini:scan\s+\[(local cache|remote cache|existing outputs match the cache)/;

let registry: TestRegistry;
let ws: WorkspaceClone;
const scratch: string[] = [];
let trivy: string;

beforeAll(async () => {
  const found = await which('trivy', { PATH: `${join(__dirname, '../../../../tools/.bin')}${delimiter}${process.env.PATH ?? ''}` });
  if (!found) throw new Error('trivy is not built: run `bash tools/scripts/setup.sh --test-tools`');
  trivy = found;
  registry = await startTestRegistry();
  ws = await cloneWorkspace({ AUREN_REGISTRY: `${registry.host}/auren` });
  // A project of its own: an image FROM scratch builds in a second, with no base image.
  await ws.commit('feat(mini): a tiny image', {
    'apps/mini/project.json': JSON.stringify({ name: 'mini', projectType: 'application' }),
    'apps/mini/Dockerfile': 'FROM scratch\nCOPY a.txt /a.txt\nUSER 10001\n',
    'apps/mini/a.txt': 'a\n',
  });
}, 300_000);

afterAll(async () => {
  await ws?.nx(['daemon', '--stop'], { NX_DAEMON: 'true' }).catch(() => undefined);
  await registry?.stop();
  await ws?.remove();
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe.each(['true', 'false'])('the scan cache with NX_DAEMON=%s', (daemon) => {
  it('re-scans once trivy is on PATH, after a scan made without it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auren-fingerprint-e2e-'));
    scratch.push(dir);
    const bin = join(dir, 'bin');
    await mkdir(bin);
    // The same PATH in every run: only what is in its first folder changes.
    const env: NodeJS.ProcessEnv = {
      NX_DAEMON: daemon,
      NX_CACHE_DIRECTORY: join(dir, 'nx-cache'),
      PATH: [bin, ...(ws.env.PATH ?? '').split(delimiter).filter((p) => !p.endsWith('tools/.bin'))].join(delimiter),
      TRIVY_CACHE_DIR: join(dir, 'trivy-cache'),
    };
    // An image of this test's own: the other daemon mode's verdicts are in this clone's Nx cache.
    await ws.commit(`fix(mini): content for NX_DAEMON=${daemon}`, { 'apps/mini/a.txt': `${daemon}\n` });
    const scan = () => ws.nx(['run', 'mini:scan'], env);
    try {
      const without = await scan();
      expect(without.all).toMatch(/mini: scan not-scanned/);
      expect(without.all).not.toMatch(CACHED);
      // Unchanged: the verdict comes from the cache.
      const again = await scan();
      expect(again.all).toMatch(CACHED);

      await symlink(trivy, join(bin, 'trivy'));
      const withTrivy = await scan();
      expect(withTrivy.all).not.toMatch(CACHED);
      expect(withTrivy.all).toMatch(/mini:scan/);
    } finally {
      if (daemon === 'true') await ws.nx(['daemon', '--stop'], env).catch(() => undefined);
    }
  }, 600_000);
});
