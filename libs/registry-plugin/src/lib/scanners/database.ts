import type { AurenConfig } from '../config/options';
import { trivyRegistryAccess } from '../connect/child-tools';
import { credentialsFor, connectRegistry } from '../connect/connect';
import { findTrivyDb, trivyDbRepositories } from './trivy-db-artifact';
import type { ScanDatabase } from './types';

const QUICK_PROBE = { retry: { attempts: 1, deadlineMs: 5_000 }, requestTimeoutMs: 3_000, tokenTimeoutMs: 3_000 };

/**
 * The database `scan` uses: the Trivy DB our registry serves (`<namespace>/trivy-db:2`, or a
 * `registry:mirror` copy of upstream's), else the scanner's own. Grype has no registry-served
 * database, so it always uses its own. Never throws: a registry that cannot be reached means
 * "not served", and the scan then says which database it used.
 */
export async function resolveScanDatabase(
  config: Pick<AurenConfig, 'registry' | 'namespace' | 'insecureRegistries' | 'caFile'>,
  scanner: AurenConfig['scan']['scanner'],
  env: NodeJS.ProcessEnv,
  options: { quick?: boolean } = {},
): Promise<ScanDatabase> {
  if (scanner !== 'trivy') return { kind: 'local' };
  try {
    // `quick` (the fingerprint, once per scan task of every Nx command): one attempt, short waits.
    // A registry that is down then costs a refused connection, not the retries a push deserves;
    // the scan itself asks again with the full client.
    const client = await connectRegistry(config, env, config.registry, options.quick ? QUICK_PROBE : {});
    const artifact = await findTrivyDb(client, trivyDbRepositories(config.namespace));
    if (!artifact) return { kind: 'local' };
    const plainHttp = client.baseUrl.startsWith('http://');
    const access = await trivyRegistryAccess(config.registry, { insecureRegistries: config.insecureRegistries, caFile: config.caFile, env, plainHttp });
    const credentials = await credentialsFor(config.registry, config, env).catch(() => undefined);
    return {
      kind: 'registry',
      reference: `${config.registry}/${artifact.repository}`,
      digest: artifact.digest,
      ...(artifact.updatedAt ? { updatedAt: artifact.updatedAt } : {}),
      ...access,
      ...(credentials ? { credentials } : {}),
    };
  } catch {
    return { kind: 'local' };
  }
}
