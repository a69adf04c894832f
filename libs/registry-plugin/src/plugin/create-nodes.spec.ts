/**
 * The scan target's cache key depends on the scanner through a runtime input, which Nx runs in
 * the workspace root with a shell and takes whatever it prints, exit code aside. It must find the
 * plugin's own script from any workspace (the plugin as a package), and a failure must never turn
 * into a key that no longer depends on the scanner.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { exec } from '../lib/exec/exec';
import { fingerprintCommand, inferTargets } from './create-nodes';

const WORKSPACE = resolve(__dirname, '../../../..');
const STANDINS = join(WORKSPACE, 'tools/scanner-standins');
const NODE_DIR = dirname(process.execPath);

/** The scan target's runtime input, as inferred for a project of `workspaceRoot`. */
function scanRuntimeInput(workspaceRoot: string): string {
  const inputs = inferTargets('apps/api', workspaceRoot)['scan'].inputs ?? [];
  const runtime = inputs.find((input): input is { runtime: string } => typeof input === 'object' && 'runtime' in input);
  if (!runtime) throw new Error('the scan target has no runtime input');
  return runtime.runtime;
}

/** Runs a runtime input as Nx does: `sh -c`, in the workspace root; what it prints. */
async function runAsNx(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout, stderr } = await exec('sh', ['-c', command], { cwd, env, okExitCodes: [0, 1, 2, 127] });
  return `${stdout}${stderr}`.trim();
}

describe('the scan target’s scanner fingerprint input', () => {
  let other: string;
  beforeAll(async () => {
    // A workspace that uses the plugin as a package: no libs/registry-plugin of its own.
    other = await mkdtemp(join(tmpdir(), 'auren-consumer-'));
    await writeFile(join(other, 'nx.json'), JSON.stringify({ plugins: [{ plugin: '@auren/registry-plugin', options: { registry: '127.0.0.1:9', namespace: 'x', scan: { scanner: 'grype' } } }] }));
  });
  afterAll(async () => {
    await rm(other, { recursive: true, force: true });
  });

  it('runs the plugin’s own script from a workspace that installed the plugin', async () => {
    const env = { ...process.env, PATH: `${STANDINS}${delimiter}${NODE_DIR}`, AUREN_SCANNER: '' };
    expect(await runAsNx(scanRuntimeInput(other), other, env)).toBe('scanner=grype version=0.86.1 db=v6.0.2@2024-11-27T01:31:35Z');
  }, 60_000);

  it('reads the scan policy of the workspace it runs in, not of an outer Nx run', async () => {
    const env = { ...process.env, PATH: `${STANDINS}${delimiter}${NODE_DIR}`, AUREN_SCANNER: '', NX_WORKSPACE_ROOT: WORKSPACE };
    expect(await runAsNx(scanRuntimeInput(other), other, env)).toMatch(/^scanner=grype /);
  }, 60_000);

  it('names the script relative to the workspace, so every clone has the same input', () => {
    expect(scanRuntimeInput(WORKSPACE)).toMatch(/^node "libs\/registry-plugin\/bin\/scanner-fingerprint\.js" \|\| /);
  });

  it('never prints the same thing twice when the script cannot run, and says so', async () => {
    const command = fingerprintCommand(other, join(other, 'missing', 'scanner-fingerprint.js'));
    const env = { ...process.env, PATH: `${NODE_DIR}` };
    const [first, second] = [await runAsNx(command, other, env), await runAsNx(command, other, env)];
    expect(first).toMatch(/auren: the scanner fingerprint \(missing\/scanner-fingerprint\.js\) failed; scan results are not taken from the cache/);
    expect(first).not.toBe(second);
  }, 60_000);
});
