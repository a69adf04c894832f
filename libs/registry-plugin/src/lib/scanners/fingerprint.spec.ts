import { delimiter, dirname, join, resolve } from 'node:path';
import { exec } from '../exec/exec';
import { scannerFingerprint } from './fingerprint';

const WORKSPACE = resolve(__dirname, '../../../../..');
const STANDINS = join(WORKSPACE, 'tools/scanner-standins');
const NODE_DIR = dirname(process.execPath);
const withStandins = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${STANDINS}${delimiter}${NODE_DIR}`, ...extra });

describe('scannerFingerprint', () => {
  it.each([
    ['trivy', {}, 'scanner=trivy version=0.56.2 db=2@2024-11-27T06:11:44.446960377Z'],
    ['trivy', { AUREN_STANDIN_DB_VERSION: '2025-01-02T00:00:00Z' }, 'scanner=trivy version=0.56.2 db=2@2025-01-02T00:00:00Z'],
    ['grype', {}, 'scanner=grype version=0.86.1 db=v6.0.2@2024-11-27T01:31:35Z'],
    ['grype', { AUREN_STANDIN_DB_VERSION: '2025-01-02T00:00:00Z' }, 'scanner=grype version=0.86.1 db=v6.0.2@2025-01-02T00:00:00Z'],
  ] as const)('names %s, its version and its database (%j)', async (scanner, extra, expected) => {
    expect(await scannerFingerprint({ scanner }, withStandins(extra))).toBe(expected);
  });

  it('says "none" when the scanner is not installed', async () => {
    expect(await scannerFingerprint({ scanner: 'trivy' }, { ...process.env, PATH: NODE_DIR })).toBe('scanner=trivy version=none db=none');
  });

  it('prints from the CLI entry the lead wires as an Nx runtime input', async () => {
    const cli = join(__dirname, 'fingerprint-cli.ts');
    const run = (args: string[]) =>
      exec(process.execPath, ['-r', '@swc-node/register', cli, ...args], { cwd: WORKSPACE, env: withStandins({ AUREN_SCANNER: '' }) });
    expect((await run(['--scanner', 'grype'])).stdout).toBe('scanner=grype version=0.86.1 db=v6.0.2@2024-11-27T01:31:35Z\n');
    // Without --scanner the policy comes from nx.json through normalizeOptions (trivy there and by default).
    expect((await run([])).stdout).toMatch(/^scanner=(trivy|grype) version=\S+ db=\S+\n$/);
  });
});
