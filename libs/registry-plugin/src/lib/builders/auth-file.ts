import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * buildah and podman take `$DOCKER_CONFIG/config.json` as their auth file whenever DOCKER_CONFIG
 * is set, and then refuse to pull, push or even create a container when that file does not exist
 * ("checking authfile: stat …/config.json"). A DOCKER_CONFIG folder without config.json is the
 * normal state before any login, and to docker it means "no credentials". The builder gets that
 * same meaning from an empty auth file of its own (REGISTRY_AUTH_FILE wins over DOCKER_CONFIG),
 * rather than dropping DOCKER_CONFIG, which would let it read credentials from ~/.docker or
 * containers' auth.json that the user pointed it away from.
 */
export async function withAuthFile<T>(env: NodeJS.ProcessEnv, fn: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  if (env.REGISTRY_AUTH_FILE || !env.DOCKER_CONFIG || existsSync(join(env.DOCKER_CONFIG, 'config.json'))) return fn(env);
  const dir = await mkdtemp(join(tmpdir(), 'auren-authfile-'));
  const file = join(dir, 'auth.json');
  await writeFile(file, '{"auths":{}}\n', { mode: 0o600 });
  try {
    return await fn({ ...env, REGISTRY_AUTH_FILE: file });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
