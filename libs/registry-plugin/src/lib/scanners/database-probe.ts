import { request } from 'node:http';
import type { AurenConfig } from '../config/options';
import { isInsecureRegistry, validateRegistryHost } from '../config/registry-address';
import { checkManifestAnswer, MAX_MANIFEST_BYTES } from '../registry/manifest-answer';
import { ACCEPT_MANIFESTS } from '../registry/media-types';
import { isLoopbackRegistry } from '../registry/reference';
import type { ManifestGetResult } from '../registry/types';
import { searchTrivyDb, trivyDbRepositories, type ManifestReader } from './trivy-db-artifact';
import type { ScanDatabase, ServedDatabase } from './types';

/**
 * Which database a scan would use, as its cache key names it: what `resolveScanDatabase` answers
 * with `quick`, without what only a download needs (trivy's TLS settings and credentials).
 *
 * It runs for every scan task of every Nx command, on the critical path, so a registry reached
 * over plain HTTP (a loopback registry that does not speak TLS, or one listed in
 * insecureRegistries) is asked with one anonymous GET per repository over node's own HTTP client:
 * loading the registry client (undici, its TLS trust) and the TLS handshake our client tries
 * first on a loopback host cost more than the whole answer. The manifest's one answer carries
 * both the digest and the database's date. Whatever that GET cannot decide (a registry that
 * wants credentials, speaks TLS, redirects or fails) is asked again with the full client, so
 * the answer is always the one the scan gets.
 */

/** As resolveScanDatabase's `quick`: one attempt, a short wait. */
const PROBE_TIMEOUT_MS = 3_000;

/** An answer the plain GET cannot decide on; the full client asks again. */
class Undecided extends Error {}

/** Nothing listens, or nothing answers in time: the registry is down, which means "not served". */
const DOWN = /^(ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/;

function plainGet(url: URL): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers: { accept: ACCEPT_MANIFESTS, 'user-agent': 'auren-registry-plugin', 'accept-encoding': 'identity' } });
    // Headers and body: a registry that accepts and then says nothing counts as down.
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })), PROBE_TIMEOUT_MS);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > MAX_MANIFEST_BYTES) req.destroy(new Undecided(`an answer of more than ${MAX_MANIFEST_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    req.end();
  });
}

/** `manifestGet` over plain HTTP, anonymous, with the client's checks on what it is given. */
function plainHttpManifests(registry: string): ManifestReader {
  return {
    registry,
    async manifestGet(repo: string, ref: string): Promise<ManifestGetResult | 'not-found'> {
      let answer;
      try {
        answer = await plainGet(new URL(`http://${registry}/v2/${repo}/manifests/${ref}`));
      } catch (error) {
        if (error instanceof Undecided || DOWN.test((error as NodeJS.ErrnoException).code ?? '')) throw error;
        // A reset or an answer that is not HTTP: a TLS server, which the full client speaks to.
        throw new Undecided((error as Error).message);
      }
      if (answer.status === 404) return 'not-found';
      if (answer.status !== 200) throw new Undecided(`status ${answer.status}`);
      // As the client's manifestGet: bytes that are no manifest, or that hash to another digest
      // than the registry names, are an answer not to be trusted (thrown: "not served").
      const header = (name: string) => (typeof answer.headers[name] === 'string' ? (answer.headers[name] as string) : undefined);
      return checkManifestAnswer(ref, answer.body, { contentType: header('content-type'), digest: header('docker-content-digest') });
    },
  };
}

/**
 * The database the scan fingerprint names: never throws; a registry that is down or answers
 * nonsense means "not served", as for `resolveScanDatabase`.
 */
export async function probeScanDatabase(
  config: Pick<AurenConfig, 'registry' | 'namespace' | 'insecureRegistries' | 'caFile'>,
  scanner: AurenConfig['scan']['scanner'],
  env: NodeJS.ProcessEnv,
): Promise<ServedDatabase> {
  if (scanner !== 'trivy') return { kind: 'local' };
  try {
    // As connectRegistry: an address with credentials in it is never asked.
    validateRegistryHost(config.registry, 'the registry address');
    if (isInsecureRegistry(config.registry, config.insecureRegistries) || isLoopbackRegistry(config.registry)) {
      const artifact = await searchTrivyDb(plainHttpManifests(config.registry), trivyDbRepositories(config.namespace));
      if (!artifact) return { kind: 'local' };
      return { kind: 'registry', reference: `${config.registry}/${artifact.repository}`, digest: artifact.digest, ...(artifact.updatedAt ? { updatedAt: artifact.updatedAt } : {}) };
    }
  } catch (error) {
    if (!(error instanceof Undecided)) return { kind: 'local' };
  }
  // Loaded only here: the registry client and its TLS trust are most of what this would cost.
  const { resolveScanDatabase } = await import('./database');
  const database: ScanDatabase = await resolveScanDatabase(config, scanner, env, { quick: true });
  return database.kind === 'registry'
    ? { kind: 'registry', reference: database.reference, digest: database.digest, ...(database.updatedAt ? { updatedAt: database.updatedAt } : {}) }
    : { kind: 'local' };
}
