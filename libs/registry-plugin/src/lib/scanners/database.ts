import { isInsecureRegistry, isLoopbackRegistry, type AurenConfig } from '../config/options';
import { credentialsFor, connectRegistry } from '../pipeline/connect';
import { builderTlsArgs } from '../registry/tls';
import { findTrivyDb, trivyDbRepositories } from './trivy-db';
import type { ScanDatabase } from './types';

/**
 * The database `scan` uses: the Trivy DB our registry serves (`<namespace>/trivy-db:2`, or a
 * `registry:mirror` copy of upstream's), else the scanner's own. Grype has no registry-served
 * database, so it always uses its own. Never throws: a registry that cannot be reached means
 * "not served", and the scan then says which database it used.
 */
export async function resolveScanDatabase(config: AurenConfig, scanner: AurenConfig['scan']['scanner'], env: NodeJS.ProcessEnv): Promise<ScanDatabase> {
  if (scanner !== 'trivy') return { kind: 'local' };
  try {
    const client = await connectRegistry(config, env);
    const artifact = await findTrivyDb(client, trivyDbRepositories(config.namespace));
    if (!artifact) return { kind: 'local' };
    const plainHttp = client.baseUrl.startsWith('http://');
    // Trivy (go-containerregistry) tries HTTPS then plain HTTP for loopback hosts by itself;
    // any other plain-HTTP or unverified registry needs --insecure.
    const insecure = isInsecureRegistry(config.registry, config.insecureRegistries) || (plainHttp && !isLoopbackRegistry(config.registry));
    const tls = plainHttp ? undefined : await builderTlsArgs(config.registry, { caFile: config.caFile, env });
    const credentials = await credentialsFor(config.registry, config, env).catch(() => undefined);
    return {
      kind: 'registry',
      reference: `${config.registry}/${artifact.repository}`,
      digest: artifact.digest,
      ...(artifact.updatedAt ? { updatedAt: artifact.updatedAt } : {}),
      insecure,
      ...(tls?.certDir ? { certDir: tls.certDir } : {}),
      ...(credentials?.username && credentials.password ? { credentials: { username: credentials.username, password: credentials.password } } : {}),
    };
  } catch {
    return { kind: 'local' };
  }
}
