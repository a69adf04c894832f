import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isInsecureRegistry } from '../config/registry-address';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import { dockerAuthKey, type DockerAuthEntry, type DockerConfigFile } from '../registry/auth/docker-config';
import { probeRegistryScheme, type RegistryScheme } from '../registry/client';
import { isLoopbackRegistry } from '../registry/reference';
import { builderTlsArgs, createDispatcher } from '../registry/tls';

/**
 * How the child tools reach a registry: the credentials `credentialsFor` (./connect) resolves,
 * and the trust our own client uses, in the form each tool reads.
 *
 * - buildah and podman: an auth file (containers-auth.json, REGISTRY_AUTH_FILE) and a certs.d
 *   folder (`builderTlsArgs`: `--cert-dir`, `--tls-verify`).
 * - cosign, trivy, oras and crane (go-containerregistry and oras-go): a docker config folder
 *   (DOCKER_CONFIG) and the registry's CAs in SSL_CERT_DIR, plus each tool's own flags.
 *
 * Credentials go into a private folder (0700, created by mkdtemp) holding one 0600 file, removed
 * when the tool is done, whether it succeeded or not: never argv, which any local user can read
 * in `ps`, and never the environment, which every process the tool starts inherits. Every file
 * keys the registry by `dockerAuthKey`, so each tool finds Docker Hub under docker's legacy key
 * and any other registry under its `host:port`, as they find what `docker login` writes.
 */

/** What a tool needs of `credentialsFor`'s answer (not where it came from). */
export type ToolCredentials = Pick<ResolvedCredentials, 'username' | 'password' | 'identityToken'>;

const base64 = (text: string) => Buffer.from(text).toString('base64');
const IDENTITY_TOKEN_USER = '<token>';

/** Docker's config.json entry for these credentials, as `docker login` writes it. */
function authEntry(credentials: ToolCredentials): DockerAuthEntry {
  if (credentials.identityToken) {
    // containers/image takes `identitytoken` only from an entry whose `auth` decodes to `user:`
    // (it skips an entry without `auth` as a credential helper's marker), and docker's config
    // reader refuses an `auth` with an empty user name: a token without a user name (from a
    // credential helper) goes under docker's own `<token>`, which no token request sends.
    return { auth: base64(`${credentials.username || IDENTITY_TOKEN_USER}:`), identitytoken: credentials.identityToken };
  }
  return { auth: base64(`${credentials.username}:${credentials.password}`) };
}

/** The whole file a tool reads: one registry, keyed as docker keys it. */
function authConfig(registry: string, credentials: ToolCredentials): DockerConfigFile {
  return { auths: { [dockerAuthKey(registry)]: authEntry(credentials) } };
}

/** What must never reach a log or an error message of a tool given these credentials. */
export function credentialSecrets(credentials: ToolCredentials | undefined): string[] {
  return [credentials?.password, credentials?.identityToken].filter((s): s is string => !!s);
}

/**
 * A tool's environment once a file holds its credentials: without the variables our own
 * credentials may have come from, which no tool reads, so neither the tool nor anything it
 * starts holds the password in its environment. They are unset rather than left out, since the
 * exec wrapper starts a child with our own environment under the one it is given.
 */
function withoutRegistrySecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, AUREN_REGISTRY_USERNAME: undefined, AUREN_REGISTRY_PASSWORD: undefined };
}

/** `body` runs while `name` exists, mode 0600, alone in a fresh 0700 folder; both go afterwards. */
async function withPrivateFile<T>(prefix: string, name: string, content: string, body: (file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    const file = join(dir, name);
    await writeFile(file, content, { mode: 0o600, flag: 'wx' });
    return await body(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * buildah and podman: `body` gets an environment whose REGISTRY_AUTH_FILE holds `credentials`
 * for `registry`. An auth file the user set wins, as it does for buildah itself. Without
 * credentials the environment stays as it is, except for `withBuilderAuthFile`'s case.
 */
export async function withBuilderAccess<T>(
  registry: string,
  credentials: ToolCredentials | undefined,
  env: NodeJS.ProcessEnv,
  body: (env: NodeJS.ProcessEnv) => Promise<T>,
): Promise<T> {
  if (env.REGISTRY_AUTH_FILE || !credentials) return withBuilderAuthFile(env, body);
  return withPrivateFile('auren-builder-auth-', 'auth.json', JSON.stringify(authConfig(registry, credentials)), (file) =>
    body({ ...withoutRegistrySecrets(env), REGISTRY_AUTH_FILE: file }),
  );
}

/**
 * buildah and podman take `$DOCKER_CONFIG/config.json` as their auth file whenever DOCKER_CONFIG
 * is set, and then refuse to pull, push or even create a container when that file does not exist
 * ("checking authfile: stat …/config.json"). A DOCKER_CONFIG folder without config.json is the
 * normal state before any login, and to docker it means "no credentials". The builder gets that
 * same meaning from an empty auth file of its own (REGISTRY_AUTH_FILE wins over DOCKER_CONFIG),
 * rather than dropping DOCKER_CONFIG, which would let it read credentials from ~/.docker or
 * containers' auth.json that the user pointed it away from.
 */
export async function withBuilderAuthFile<T>(env: NodeJS.ProcessEnv, body: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  if (env.REGISTRY_AUTH_FILE || !env.DOCKER_CONFIG || existsSync(join(env.DOCKER_CONFIG, 'config.json'))) return body(env);
  return withPrivateFile('auren-builder-auth-', 'auth.json', '{"auths":{}}\n', (file) => body({ ...env, REGISTRY_AUTH_FILE: file }));
}

/**
 * A tool that reads docker's `$DOCKER_CONFIG/config.json`: `body` gets an environment whose
 * DOCKER_CONFIG is a private folder holding `credentials` for `registry`. Without credentials
 * the environment stays as it is, so the user's own login and credential helpers still apply.
 */
export type DockerConfigAccess = <T>(
  registry: string,
  credentials: ToolCredentials | undefined,
  env: NodeJS.ProcessEnv,
  body: (env: NodeJS.ProcessEnv) => Promise<T>,
) => Promise<T>;

function dockerConfigAccess(tool: string): DockerConfigAccess {
  return (registry, credentials, env, body) => {
    if (!credentials) return body(env);
    return withPrivateFile(`auren-${tool}-auth-`, 'config.json', JSON.stringify(authConfig(registry, credentials)), (file) =>
      body({ ...withoutRegistrySecrets(env), DOCKER_CONFIG: dirname(file) }),
    );
  };
}

export const withCosignAccess = dockerConfigAccess('cosign');
/**
 * trivy (v0.74, checked in child-tools.spec.ts) reads DOCKER_CONFIG for `--db-repository` as
 * well, so its password need not be in its environment (TRIVY_PASSWORD).
 */
export const withTrivyAccess = dockerConfigAccess('trivy');
export const withOrasAccess = dockerConfigAccess('oras');
export const withCraneAccess = dockerConfigAccess('crane');

/**
 * Go tools read extra roots from SSL_CERT_DIR besides the system bundle file, so the registry's
 * CAs (`certDir`, from `builderTlsArgs`) are added to the system roots, not put in their place;
 * folders the user named there stay first.
 */
export function goTrustEnv(env: NodeJS.ProcessEnv, certDir: string | undefined): NodeJS.ProcessEnv {
  if (!certDir) return env;
  return { ...env, SSL_CERT_DIR: [env.SSL_CERT_DIR || '/etc/ssl/certs', certDir].join(':') };
}

/**
 * cosign refuses plain HTTP unless told: `--allow-http-registry` for a plain-HTTP loopback
 * registry (and registries the user listed as insecure), `--allow-insecure-registry` for their
 * TLS. A loopback registry known to speak HTTPS (`scheme`, from probeRegistryScheme) is verified
 * like any other; without `scheme` a loopback registry is taken for the plain embedded one.
 */
export function registryFlags(registry: string, insecureRegistries: readonly string[], scheme?: RegistryScheme): string[] {
  const insecure = isInsecureRegistry(registry, insecureRegistries) || (isLoopbackRegistry(registry) && scheme !== 'https');
  return insecure ? ['--allow-http-registry', '--allow-insecure-registry'] : [];
}

export interface CosignRegistryAccess {
  flags: string[];
  /** cosign's environment: the registry's CAs added to Go's trust (SSL_CERT_DIR). */
  env: NodeJS.ProcessEnv;
}

/**
 * How cosign reaches `registry`, decided as the client and the builder decide: a loopback
 * registry is probed (HTTPS first, plain HTTP only if it does not speak TLS), and a TLS registry
 * is trusted through the same CAs (certs.d, caFile, NODE_EXTRA_CA_CERTS) and client certificate,
 * instead of switching verification off.
 */
export async function cosignRegistryAccess(
  registry: string,
  insecureRegistries: readonly string[],
  options: { caFile?: string; env: NodeJS.ProcessEnv },
): Promise<CosignRegistryAccess> {
  const { env, caFile } = options;
  if (isInsecureRegistry(registry, insecureRegistries)) return { flags: registryFlags(registry, insecureRegistries), env };
  let scheme: RegistryScheme = 'https';
  if (isLoopbackRegistry(registry)) {
    const dispatcher = createDispatcher({ registry, caFile, env });
    scheme = await probeRegistryScheme(registry, { dispatcher }).finally(() => dispatcher.close());
  }
  if (scheme === 'http') return { flags: registryFlags(registry, insecureRegistries, scheme), env };
  const tls = await builderTlsArgs(registry, { caFile, env, plainHttp: false });
  if (!tls.certDir) return { flags: [], env };
  const clientFlags = existsSync(join(tls.certDir, 'client.cert'))
    ? ['--registry-client-cert', join(tls.certDir, 'client.cert'), '--registry-client-key', join(tls.certDir, 'client.key')]
    : [];
  return { flags: clientFlags, env: goTrustEnv(env, tls.certDir) };
}

export interface TrivyRegistryAccess {
  /** Pass `--insecure`. */
  insecure: boolean;
  /** The registry's CAs, for `goTrustEnv`. */
  certDir?: string;
}

/**
 * How trivy reaches `registry`, once our client has found whether it speaks TLS (`plainHttp`).
 * Trivy (go-containerregistry) tries HTTPS then plain HTTP for loopback hosts by itself; any
 * other plain-HTTP or unverified registry needs --insecure.
 */
export async function trivyRegistryAccess(
  registry: string,
  options: { insecureRegistries: readonly string[]; caFile?: string; env: NodeJS.ProcessEnv; plainHttp: boolean },
): Promise<TrivyRegistryAccess> {
  const insecure = isInsecureRegistry(registry, options.insecureRegistries) || (options.plainHttp && !isLoopbackRegistry(registry));
  const certDir = options.plainHttp ? undefined : (await builderTlsArgs(registry, { caFile: options.caFile, env: options.env })).certDir;
  return { insecure, ...(certDir ? { certDir } : {}) };
}
