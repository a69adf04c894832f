import type { AurenConfig, IgnoreRule } from '../config/options';
import { which } from '../exec/exec';
import { createScanner } from './adapters';
import { scannerIdentity } from './tool-identity';
import { trivyCacheDir } from './trivy';
import type { ServedDatabase } from './types';
import { selectInForce, type VexDocument } from './vex';

/**
 * One line naming the scanner, its version and its database version, e.g.
 * `scanner=trivy version=0.56.2 db=2@2024-11-27T06:11:44Z`, or `version=none db=none` when the
 * scanner is not installed. Used as an Nx runtime cache input: a cached scan is reused only while
 * image, scanner, version and database are unchanged. Never throws: a broken scanner yields
 * `unknown`, which still differs from any working identity. The tool is asked once per machine
 * while its binary and database files are unchanged (tool-identity.ts).
 */
export async function scannerFingerprint(
  policy: Pick<AurenConfig['scan'], 'scanner'>,
  env: NodeJS.ProcessEnv = process.env,
  database: ServedDatabase = { kind: 'local' },
): Promise<string> {
  const adapter = createScanner(policy.scanner);
  const binaryPath = await which(adapter.binary, env);
  if (!binaryPath) return `scanner=${adapter.name} version=none db=none`;
  try {
    const cacheDir = adapter.name === 'trivy' ? trivyCacheDir(env) : undefined;
    const id = await scannerIdentity(adapter, binaryPath, env, cacheDir);
    // A registry-served database is named by its manifest digest, which changes with every
    // published database (its UpdatedAt is inside), before any scan has downloaded it.
    const db = database.kind === 'registry' ? `${database.reference}@${database.digest}${database.updatedAt ? `(${database.updatedAt})` : ''}` : id.db;
    return `scanner=${id.name} version=${id.version} db=${db}`;
  } catch {
    return `scanner=${adapter.name} version=unknown db=unknown`;
  }
}

/**
 * How many accepted findings (ignore rules, OpenVEX statements) have expired as of `now`'s day.
 * Their content is a file input of the scan target (nx.json, the VEX documents); only the day
 * they stop applying is not, and this count changes exactly on such a day, so a verdict that
 * relied on an expired acceptance is never replayed from the cache.
 */
export function expiredAcceptances(ignore: readonly IgnoreRule[], vex: readonly VexDocument[], now: Date): number {
  const day = now.toISOString().slice(0, 10);
  return ignore.filter((rule) => rule.expires && day > rule.expires).length + selectInForce(vex, now).expired.length;
}
