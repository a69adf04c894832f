import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * buildah and podman decide TLS per registry from registries.conf. Rather than turning TLS
 * verification off for every pull (`--tls-verify=false`), a build gets a private
 * registries.conf that marks only the plain-HTTP registries (loopback or configured) insecure;
 * every other registry keeps full verification.
 */
export function registriesConf(insecure: readonly string[]): string {
  return [
    'unqualified-search-registries = ["docker.io"]',
    ...insecure.flatMap((location) => ['', '[[registry]]', `location = "${location}"`, 'insecure = true']),
    '',
  ].join('\n');
}

export async function withRegistriesConf<T>(
  insecure: readonly string[],
  env: NodeJS.ProcessEnv,
  fn: (env: NodeJS.ProcessEnv) => Promise<T>,
): Promise<T> {
  if (!insecure.length || env.CONTAINERS_REGISTRIES_CONF) return fn(env);
  const dir = await mkdtemp(join(tmpdir(), 'auren-registries-'));
  const file = join(dir, 'registries.conf');
  await writeFile(file, registriesConf(insecure));
  try {
    return await fn({ ...env, CONTAINERS_REGISTRIES_CONF: file });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
