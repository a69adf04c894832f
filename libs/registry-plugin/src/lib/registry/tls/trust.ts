import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { isLoopbackRegistry } from '../reference';
import { AurenError, configError } from '../../errors/errors';

/**
 * Registry TLS trust, gathered the way container tools do it so that our HTTP client and the
 * builder trust the same registries:
 * - `certs.d/<host[:port]>/` folders (docker: /etc/docker/certs.d; containers/image:
 *   /etc/containers/certs.d and $XDG_CONFIG_HOME/containers/certs.d): every `*.crt` is a CA,
 *   every `<name>.cert` + `<name>.key` pair is a client certificate
 *   (https://docs.docker.com/engine/security/certificates/, containers-certs.d(5));
 * - the plugin's `caFile` option;
 * - NODE_EXTRA_CA_CERTS — which Node reads only at start-up, and which passing an explicit `ca`
 *   list would otherwise drop, so it is read again here.
 */
export interface TrustOptions {
  /** `host[:port]` as configured. */
  registry: string;
  /** Extra CA bundle (PEM); relative paths resolve against the current directory. */
  caFile?: string;
  /** Skip certificate verification entirely (insecureRegistries). */
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
  /** certs.d roots to search instead of the conventional ones (tests, unusual layouts). */
  certsDirs?: readonly string[];
}

export interface ClientCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface RegistryTrust {
  /** Extra CA certificate files, in discovery order (certs.d folders, then caFile, then NODE_EXTRA_CA_CERTS). */
  caFiles: string[];
  /** Their PEM contents. */
  ca: string[];
  clientCertificate?: ClientCertificate;
  insecure: boolean;
}

/** The conventional certs.d roots, most specific first. */
export function certsDirRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME || homedir();
  const xdg = env.XDG_CONFIG_HOME || join(home, '.config');
  const dockerConfig = env.DOCKER_CONFIG || join(home, '.docker');
  const roots = [
    join(xdg, 'containers', 'certs.d'),
    join(xdg, 'docker', 'certs.d'), // rootless dockerd
    join(dockerConfig, 'certs.d'),
    join(dirname(dockerConfig), 'certs.d'),
    '/etc/containers/certs.d',
    '/etc/docker/certs.d',
  ];
  return [...new Set(roots)];
}

function hostDirNames(registry: string): string[] {
  // `host:443` and `host` name the same endpoint; tools differ in which folder name they use.
  const names = [registry];
  if (registry.endsWith(':443')) names.push(registry.slice(0, -4));
  else if (!/:\d+$/.test(registry)) names.push(`${registry}:443`);
  return names;
}

function readPem(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw configError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      'Fix the path in the plugin options (caFile) or the certs.d folder.');
  }
  return text;
}

function requireCertificate(path: string, what: string): string {
  const text = readPem(path, what);
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw configError(`${what} ${path} holds no PEM certificate`, 'Use a PEM file (-----BEGIN CERTIFICATE-----).');
  }
  return text;
}

export function loadRegistryTrust(options: TrustOptions): RegistryTrust {
  const env = options.env ?? process.env;
  const caFiles: string[] = [];
  let clientCertificate: ClientCertificate | undefined;

  for (const root of options.certsDirs ?? certsDirRoots(env)) {
    for (const name of hostDirNames(options.registry)) {
      const dir = join(root, name);
      let entries: string[];
      try {
        entries = readdirSync(dir).sort();
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (entry.endsWith('.crt')) caFiles.push(join(dir, entry));
        if (entry.endsWith('.cert') && !clientCertificate) {
          const keyFile = join(dir, `${entry.slice(0, -'.cert'.length)}.key`);
          if (!existsSync(keyFile)) {
            throw configError(`client certificate ${join(dir, entry)} has no matching key ${keyFile}`,
              'Put the private key next to it as <name>.key (docker certs.d convention).');
          }
          const certFile = join(dir, entry);
          clientCertificate = { certFile, keyFile, cert: readPem(certFile, 'client certificate'), key: readPem(keyFile, 'client key') };
        }
      }
    }
  }
  if (options.caFile) {
    const path = resolve(options.caFile);
    if (!existsSync(path)) {
      throw configError(`caFile ${path} does not exist`, 'Fix `caFile` in the @auren/registry-plugin options in nx.json.');
    }
    caFiles.push(path);
  }
  const unique = [...new Set(caFiles)];
  const ca = unique.map((file) => requireCertificate(file, 'CA file'));
  if (env.NODE_EXTRA_CA_CERTS && existsSync(env.NODE_EXTRA_CA_CERTS)) {
    unique.push(env.NODE_EXTRA_CA_CERTS);
    ca.push(readPem(env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS'));
  }
  return { caFiles: unique, ca, clientCertificate, insecure: !!options.insecure };
}

/** An undici Agent trusting Node's roots + this registry's extra CAs, with its client certificate. */
export function createDispatcher(options: TrustOptions): Agent {
  return dispatcherFor(loadRegistryTrust(options));
}

export function dispatcherFor(trust: RegistryTrust): Agent {
  const material = {
    // An explicit `ca` replaces Node's defaults, so they are listed again.
    ...(trust.ca.length ? { ca: [...rootCertificates, ...trust.ca] } : {}),
    ...(trust.clientCertificate ? { cert: trust.clientCertificate.cert, key: trust.clientCertificate.key } : {}),
  };
  const plain = buildConnector({});
  // One TLS context for every connection of this dispatcher, made at the first one that needs
  // TLS. Given the material per connection, Node parses each CA certificate again for every
  // connection (about 30 ms of CPU each, and a push opens several at once).
  let secure: buildConnector.connector | undefined;
  return new Agent({
    connect: (options, callback) => {
      if (options.protocol !== 'https:') return plain(options, callback);
      secure ??= buildConnector({ secureContext: createSecureContext(material), rejectUnauthorized: !trust.insecure });
      return secure(options, callback);
    },
  });
}

export interface BuilderTls {
  /** A folder in containers-certs.d(5) layout holding every CA and the client pair, if any. */
  certDir: string | undefined;
  /** False for insecure registries and plain-HTTP loopback registries. */
  tlsVerify: boolean;
  /** For buildah / podman (`build`, `push`, `pull`). */
  args: string[];
  /** For skopeo, which names the flags per side. */
  skopeoArgs: { src: string[]; dest: string[] };
  /** A BuildKit `buildkitd.toml` fragment for docker buildx, which has no --cert-dir. */
  buildkitToml: string | undefined;
}

export interface BuilderTlsOptions extends Omit<TrustOptions, 'registry'> {
  /**
   * The registry is reached over plain HTTP. Default: a loopback registry with no TLS material
   * (the embedded local registry).
   */
  plainHttp?: boolean;
  /** Where to create the cert folder; default the OS temp folder. */
  workDir?: string;
}

/**
 * The same trust for a builder. containers/image reads only `--cert-dir` when it is given, so
 * the folder merges everything found (certs.d folders from all conventions, caFile,
 * NODE_EXTRA_CA_CERTS). Its name is a content hash, so repeated builds reuse it.
 */
export async function builderTlsArgs(registry: string, options: BuilderTlsOptions = {}): Promise<BuilderTls> {
  const trust = loadRegistryTrust({ ...options, registry });
  const hasMaterial = trust.ca.length > 0 || !!trust.clientCertificate;
  const plainHttp = options.plainHttp ?? (isLoopbackRegistry(registry) && !hasMaterial);
  const tlsVerify = !(trust.insecure || plainHttp);
  let certDir: string | undefined;
  if (hasMaterial) {
    const hash = createHash('sha256');
    trust.ca.forEach((pem) => hash.update(pem));
    if (trust.clientCertificate) hash.update(trust.clientCertificate.cert).update(trust.clientCertificate.key);
    const safe = registry.replace(/[^A-Za-z0-9.-]/g, '_');
    certDir = join(options.workDir ?? join(tmpdir(), 'auren-certs'), `${safe}-${hash.digest('hex').slice(0, 12)}`);
    await mkdir(certDir, { recursive: true, mode: 0o700 });
    await Promise.all(trust.ca.map((pem, i) => writeFile(join(certDir as string, `ca-${i}.crt`), pem)));
    if (trust.clientCertificate) {
      await writeFile(join(certDir, 'client.cert'), trust.clientCertificate.cert);
      await writeFile(join(certDir, 'client.key'), trust.clientCertificate.key, { mode: 0o600 });
      await chmod(join(certDir, 'client.key'), 0o600);
    }
  }
  const flags = (certFlag: string, verifyFlag: string) => [
    ...(certDir ? [certFlag, certDir] : []),
    ...(tlsVerify ? [] : [`${verifyFlag}=false`]),
  ];
  return {
    certDir,
    tlsVerify,
    args: flags('--cert-dir', '--tls-verify'),
    skopeoArgs: { src: flags('--src-cert-dir', '--src-tls-verify'), dest: flags('--dest-cert-dir', '--dest-tls-verify') },
    buildkitToml: buildkitToml(registry, certDir, trust, plainHttp),
  };
}

function buildkitToml(registry: string, certDir: string | undefined, trust: RegistryTrust, plainHttp: boolean): string | undefined {
  if (!certDir && !trust.insecure && !plainHttp) return undefined;
  const lines = [`[registry."${registry}"]`];
  if (plainHttp) lines.push('  http = true');
  if (trust.insecure) lines.push('  insecure = true');
  if (certDir && trust.ca.length) lines.push(`  ca = [${trust.ca.map((_, i) => JSON.stringify(join(certDir, `ca-${i}.crt`))).join(', ')}]`);
  if (certDir && trust.clientCertificate) {
    lines.push(`  [[registry."${registry}".keypair]]`, `    key = ${JSON.stringify(join(certDir, 'client.key'))}`, `    cert = ${JSON.stringify(join(certDir, 'client.cert'))}`);
  }
  return `${lines.join('\n')}\n`;
}

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/**
 * Turns a TLS failure from fetch (`TypeError: fetch failed` with the socket error as `cause`)
 * into an error that says how to establish trust; undefined for anything else.
 */
export function explainTlsError(error: unknown, registry: string): AurenError | undefined {
  let cause: unknown = error;
  for (let depth = 0; depth < 4 && cause; depth++) {
    const code = String((cause as { code?: unknown }).code ?? '');
    const certsHint = `put its CA in /etc/containers/certs.d/${registry}/ca.crt (or /etc/docker/certs.d/${registry}/)`;
    if (UNTRUSTED.has(code)) {
      return new AurenError('registry', `the TLS certificate of ${registry} is not trusted (${code})`,
        `Set \`caFile\` in the plugin options to the registry's CA bundle, ${certsHint}, or list it in insecureRegistries.`, { cause: error });
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new AurenError('registry', `the TLS certificate of ${registry} does not name that host`,
        'Address the registry by a name its certificate lists, or reissue the certificate with that name in subjectAltName.', { cause: error });
    }
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
      return new AurenError('registry', `the TLS certificate of ${registry} is not valid now (${code})`,
        'Renew the registry certificate, or check this machine\'s clock.', { cause: error });
    }
    if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA/.test(code)) {
      return new AurenError('registry', `${registry} rejected the TLS client certificate (${code})`,
        `Put a client certificate signed by a CA the registry accepts in certs.d/${registry}/client.cert and client.key.`, { cause: error });
    }
    // TLS 1.3 servers check the client certificate after the handshake and just hang up, so the
    // client only sees a socket closed before any byte was read (Go's crypto/tls does this).
    const socket = (cause as { socket?: { bytesRead?: number } }).socket;
    if (code === 'UND_ERR_SOCKET' && socket?.bytesRead === 0) {
      return new AurenError('registry', `${registry} closed the connection before answering`,
        `If it requires TLS client certificates, put client.cert and client.key in certs.d/${registry}/; otherwise check that it speaks the scheme configured (HTTPS, or HTTP for insecureRegistries).`, { cause: error });
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}
