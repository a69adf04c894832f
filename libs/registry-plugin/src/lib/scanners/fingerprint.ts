import type { AurenConfig } from '../config/options';
import { exec, which } from '../exec/exec';
import { createScanner } from './adapters';
import { trivyCacheDir } from './trivy-db';
import type { ScanDatabase } from './types';

/**
 * One line naming the scanner, its version and its database version, e.g.
 * `scanner=trivy version=0.56.2 db=2@2024-11-27T06:11:44Z`, or `version=none db=none` when the
 * scanner is not installed. Used as an Nx runtime cache input: a cached scan is reused only while
 * image, scanner, version and database are unchanged. Never throws: a broken scanner yields
 * `unknown`, which still differs from any working identity.
 */
export async function scannerFingerprint(
  policy: Pick<AurenConfig['scan'], 'scanner'>,
  env: NodeJS.ProcessEnv = process.env,
  database: ScanDatabase = { kind: 'local' },
): Promise<string> {
  const adapter = createScanner(policy.scanner);
  const binaryPath = await which(adapter.binary, env);
  if (!binaryPath) return `scanner=${adapter.name} version=none db=none`;
  try {
    const id = await adapter.identify(exec, binaryPath, env, adapter.name === 'trivy' ? trivyCacheDir(env) : undefined);
    // A registry-served database is named by its manifest digest, which changes with every
    // published database (its UpdatedAt is inside), before any scan has downloaded it.
    const db = database.kind === 'registry' ? `${database.reference}@${database.digest}${database.updatedAt ? `(${database.updatedAt})` : ''}` : id.db;
    return `scanner=${id.name} version=${id.version} db=${db}`;
  } catch {
    return `scanner=${adapter.name} version=unknown db=unknown`;
  }
}
