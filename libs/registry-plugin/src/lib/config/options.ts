import { configError } from '../errors/errors';

/** The plugin's package name, as nx.json's `plugins` and executor references (`<name>:image`) spell it. */
export const PLUGIN_NAME = '@auren/registry-plugin';

/**
 * The plugin's options, as written in `nx.json` under `plugins[].options`. This is the one
 * source of configuration; `normalizeOptions` applies every default and coercion once, so the
 * rest of the code works with `AurenConfig` and never checks for `undefined`.
 */
export type Severity = 'UNKNOWN' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
export const SEVERITIES: readonly Severity[] = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
export type BuilderName = 'auto' | 'buildah' | 'docker' | 'podman';
export type ScannerName = 'trivy' | 'grype';
/** `loopback`: unscanned images are allowed only for registries on 127.0.0.1 / localhost / ::1. */
export type AllowUnscanned = 'never' | 'loopback' | 'always';

export interface IgnoreRule {
  /** Vulnerability id (CVE-…, GHSA-…). */
  id: string;
  /** ISO date (YYYY-MM-DD); the rule stops applying after this day. */
  expires?: string;
  reason?: string;
}

export interface ScanPolicyOptions {
  scanner?: ScannerName;
  /** Severities that block a push. */
  severity?: Severity[];
  ignoreUnfixed?: boolean;
  ignore?: IgnoreRule[];
  allowUnscanned?: AllowUnscanned;
  /** Skip the built-in secret check for paths matching these globs (inside the image). */
  secretAllowPaths?: string[];
}

export interface TagStrategyOptions {
  mainBranches?: string[];
  developBranches?: string[];
  /** Add `<major>.<minor>` and `<major>` aliases to stable releases. */
  aliases?: boolean;
  /** Push from pull-request builds (default: build and scan only). */
  pushPullRequests?: boolean;
  /** Version an app starts at when it has no `<project>@<version>` tag. */
  initialVersion?: string;
}

export interface RetentionRules {
  keepReleases?: number;
  keepPatterns?: string[];
  devMaxAgeDays?: number;
  deleteUntagged?: boolean;
}

export interface RetentionOptions extends RetentionRules {
  /** Per app (project name) or per repository (`<namespace>/<app>`): rules that differ. */
  overrides?: Record<string, RetentionRules>;
}

export type RetentionConfig = Required<RetentionRules> & {
  /** Fully resolved rules per override key (defaults and the common rules filled in). */
  overrides: Record<string, Required<RetentionRules>>;
};

/** Image size budgets in bytes (SI: 1 GB = 10^9 bytes, as the monitor reports them). */
export interface BudgetOptions {
  warnBytes?: number;
  failBytes?: number;
}

/**
 * Image signing with cosign (https://docs.sigstore.dev/cosign/signing/signing_with_containers/).
 * - key pair: `key` is a cosign key file (password from COSIGN_PASSWORD) or a KMS reference
 *   cosign resolves itself (`awskms://…`, `gcpkms://…`, `azurekms://…`, `hashivault://…`,
 *   `k8s://<ns>/<secret>`); `publicKey` (cosign.pub or the same KMS reference) verifies.
 * - keyless (CI with an OIDC token, e.g. GitHub Actions `id-token: write`): `keyless: true` plus
 *   the `identity` and `issuer` the Fulcio certificate must name; needs the public Sigstore.
 */
export interface SigningOptions {
  key?: string;
  publicKey?: string;
  keyless?: boolean;
  /** Keyless: the certificate identity (e.g. https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main). */
  identity?: string;
  /** Keyless: the OIDC issuer (e.g. https://token.actions.githubusercontent.com). */
  issuer?: string;
  /** Upload to the Rekor transparency log. Default: false with a key (offline), always on for keyless. */
  tlog?: boolean;
}

export type SigningConfig =
  | { mode: 'none'; publicKey: string | undefined; tlog: false }
  | { mode: 'key'; key: string; publicKey: string | undefined; tlog: boolean }
  | { mode: 'keyless'; identity: string; issuer: string; publicKey: undefined; tlog: true };

export interface RegistryPluginOptions {
  /** `host[:port]`, e.g. `127.0.0.1:5000`, `registry.digitalocean.com`, `ghcr.io`. */
  registry?: string;
  namespace?: string;
  builder?: BuilderName;
  /** Public base image → replacement; `{registry}` and `{namespace}` expand to the configured ones. */
  baseImages?: Record<string, string>;
  scan?: ScanPolicyOptions;
  tags?: TagStrategyOptions;
  retention?: RetentionOptions;
  budgets?: BudgetOptions;
  /** Registries reached over plain HTTP even though they are not on loopback. */
  insecureRegistries?: string[];
  /** CA bundle trusted for registry TLS, relative to the workspace root. */
  caFile?: string;
  signing?: SigningOptions;
}

export interface AurenConfig {
  registry: string;
  namespace: string;
  builder: BuilderName;
  baseImages: Record<string, string>;
  scan: Required<Omit<ScanPolicyOptions, 'ignore'>> & { ignore: IgnoreRule[] };
  tags: Required<TagStrategyOptions>;
  retention: RetentionConfig;
  budgets: Required<BudgetOptions>;
  insecureRegistries: string[];
  caFile: string | undefined;
  signing: SigningConfig;
}

export const DEFAULT_REGISTRY = '127.0.0.1:5000';
export const DEFAULT_NAMESPACE = 'auren';

/** `host[:port]` — a hostname or IPv4/IPv6 literal with an optional port; no scheme, no path. */
const HOST_RE = /^(?:localhost|(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?$/;
/** Repository path components, from the OCI distribution spec's `<name>` grammar. */
const NAMESPACE_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

export function validateRegistryHost(host: string, origin: string): string {
  const match = HOST_RE.exec(host);
  const port = match?.[1] ? Number(match[1]) : undefined;
  if (!match || (port !== undefined && (port < 1 || port > 65535))) {
    throw configError(
      `invalid registry address "${host}" (from ${origin})`,
      'Use host[:port], for example 127.0.0.1:5000, registry.digitalocean.com or ghcr.io — no scheme and no path.',
    );
  }
  return host;
}

export function validateNamespace(namespace: string, origin: string): string {
  if (namespace !== '' && !NAMESPACE_RE.test(namespace)) {
    throw configError(
      `invalid registry namespace "${namespace}" (from ${origin})`,
      'Use lower-case path components separated by "/", e.g. auren or my-org/auren.',
    );
  }
  return namespace;
}

/** Parses `AUREN_REGISTRY` = `host[:port][/namespace]`. */
export function parseRegistryOverride(value: string): { registry: string; namespace: string | undefined } {
  const trimmed = value.trim();
  if (/^[a-z]+:\/\//i.test(trimmed)) {
    throw configError(
      `invalid AUREN_REGISTRY "${value}": no scheme allowed`,
      'Write AUREN_REGISTRY as host[:port][/namespace], e.g. 127.0.0.1:5000/auren.',
    );
  }
  const slash = trimmed.indexOf('/');
  const host = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const namespace = slash === -1 ? undefined : trimmed.slice(slash + 1).replace(/\/+$/, '');
  validateRegistryHost(host, 'AUREN_REGISTRY');
  if (namespace !== undefined) validateNamespace(namespace, 'AUREN_REGISTRY');
  return { registry: host, namespace };
}

// Defined by the registry layer (it decides the scheme); re-exported for existing callers.
export { isLoopbackRegistry } from '../registry/reference';

function severityList(value: unknown, origin: string): Severity[] {
  const list = Array.isArray(value) ? value : String(value).split(',');
  return list.map((s) => {
    const upper = String(s).trim().toUpperCase();
    if (!SEVERITIES.includes(upper as Severity)) {
      throw configError(`unknown severity "${s}" in ${origin}`, `Use any of ${SEVERITIES.join(', ')}.`);
    }
    return upper as Severity;
  });
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T, origin: string): T {
  if (value === undefined || value === null || value === '') return fallback;
  if (!allowed.includes(value as T)) {
    throw configError(`invalid ${origin}: "${String(value)}"`, `Use one of: ${allowed.join(', ')}.`);
  }
  return value as T;
}

function nonNegative(value: unknown, fallback: number, origin: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw configError(`invalid ${origin}: ${JSON.stringify(value)}`, 'Use a non-negative number.');
  }
  return value;
}

const RETENTION_KEYS = ['keepReleases', 'keepPatterns', 'devMaxAgeDays', 'deleteUntagged'];

function retentionRules(rules: RetentionRules, base: Required<RetentionRules>, origin: string): Required<RetentionRules> {
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) throw configError(`${origin} must be an object`);
  const unknown = Object.keys(rules).filter((k) => !RETENTION_KEYS.includes(k) && !(origin === 'retention' && k === 'overrides'));
  if (unknown.length) throw configError(`unknown option ${origin}.${unknown[0]}`, `${origin} takes ${RETENTION_KEYS.join(', ')}.`);
  const patterns = rules.keepPatterns ?? base.keepPatterns;
  if (!Array.isArray(patterns) || patterns.some((p) => typeof p !== 'string' || !p)) {
    throw configError(`invalid ${origin}.keepPatterns: ${JSON.stringify(patterns)}`, 'Use a list of tag globs, e.g. ["latest", "stable-*"].');
  }
  const deleteUntagged = rules.deleteUntagged ?? base.deleteUntagged;
  if (typeof deleteUntagged !== 'boolean') throw configError(`invalid ${origin}.deleteUntagged: ${JSON.stringify(deleteUntagged)}`, 'Use true or false.');
  return {
    keepReleases: nonNegative(rules.keepReleases, base.keepReleases, `${origin}.keepReleases`),
    keepPatterns: patterns,
    devMaxAgeDays: nonNegative(rules.devMaxAgeDays, base.devMaxAgeDays, `${origin}.devMaxAgeDays`),
    deleteUntagged,
  };
}

function retentionConfig(retention: RetentionOptions): RetentionConfig {
  const common = retentionRules(retention, { keepReleases: 10, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: false }, 'retention');
  const overrides = retention.overrides ?? {};
  if (typeof overrides !== 'object' || Array.isArray(overrides)) throw configError('retention.overrides must map app or repository names to rules');
  return {
    ...common,
    overrides: Object.fromEntries(Object.entries(overrides).map(([key, rules]) => [key, retentionRules(rules, common, `retention.overrides.${key}`)])),
  };
}

/** The rules for one repository: an override named by repository, else by app, else the common ones. */
export function retentionFor(config: Pick<AurenConfig, 'namespace' | 'retention'>, repository: string): Required<RetentionRules> {
  const { overrides, ...common } = config.retention;
  const app = config.namespace && repository.startsWith(`${config.namespace}/`) ? repository.slice(config.namespace.length + 1) : repository;
  return overrides[repository] ?? overrides[app] ?? common;
}

/** `signing` from nx.json with AUREN_SIGNING_KEY / AUREN_SIGNING_PUBLIC_KEY (CI) on top. */
function signingConfig(raw: SigningOptions, env: NodeJS.ProcessEnv): SigningConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw configError('signing must be an object');
  const known = ['key', 'publicKey', 'keyless', 'identity', 'issuer', 'tlog'];
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length) throw configError(`unknown option signing.${unknown[0]}`, `signing takes ${known.join(', ')}.`);
  const key = env.AUREN_SIGNING_KEY || raw.key;
  const publicKey = env.AUREN_SIGNING_PUBLIC_KEY || raw.publicKey;
  if (raw.keyless) {
    if (key) throw configError('signing.keyless and signing.key (or AUREN_SIGNING_KEY) are both set', 'Choose one: a key pair, or keyless signing in CI.');
    if (!raw.identity || !raw.issuer) {
      throw configError(
        'signing.keyless needs signing.identity and signing.issuer',
        'They are what `cosign verify` checks in the certificate, e.g. identity https://github.com/<org>/<repo>/.github/workflows/release.yml@refs/heads/main and issuer https://token.actions.githubusercontent.com.',
      );
    }
    return { mode: 'keyless', identity: raw.identity, issuer: raw.issuer, publicKey: undefined, tlog: true };
  }
  if (raw.tlog !== undefined && typeof raw.tlog !== 'boolean') throw configError(`invalid signing.tlog: ${JSON.stringify(raw.tlog)}`, 'Use true or false.');
  if (key) return { mode: 'key', key, publicKey, tlog: raw.tlog ?? false };
  return { mode: 'none', publicKey, tlog: false };
}

export function normalizeOptions(
  options: RegistryPluginOptions | undefined,
  env: NodeJS.ProcessEnv = process.env,
): AurenConfig {
  const raw = (options ?? {}) as RegistryPluginOptions;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError('the @auren/registry-plugin options in nx.json must be an object');
  }
  let registry = validateRegistryHost(raw.registry ?? DEFAULT_REGISTRY, 'nx.json registry');
  let namespace = validateNamespace(raw.namespace ?? DEFAULT_NAMESPACE, 'nx.json namespace');
  if (env.AUREN_REGISTRY) {
    const override = parseRegistryOverride(env.AUREN_REGISTRY);
    registry = override.registry;
    if (override.namespace !== undefined) namespace = override.namespace;
  }
  const scan = raw.scan ?? {};
  const ignore = (scan.ignore ?? []).map((rule, i) => {
    if (!rule || typeof rule.id !== 'string' || !rule.id) {
      throw configError(`scan.ignore[${i}] needs an "id"`, 'Write entries as { "id": "CVE-2024-1234", "expires": "2026-12-31" }.');
    }
    if (rule.expires !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(rule.expires)) {
      throw configError(`scan.ignore[${i}].expires must be YYYY-MM-DD, got "${rule.expires}"`);
    }
    return { ...rule };
  });
  const tags = raw.tags ?? {};
  const retention = raw.retention ?? {};
  const budgets = raw.budgets ?? {};
  return {
    registry,
    namespace,
    builder: oneOf(raw.builder, ['auto', 'buildah', 'docker', 'podman'] as const, 'auto', 'builder'),
    baseImages: Object.fromEntries(
      Object.entries(raw.baseImages ?? {}).map(([from, to]) => [from, to.replace(/\{registry\}/g, registry).replace(/\{namespace\}/g, namespace)]),
    ),
    scan: {
      scanner: oneOf(env.AUREN_SCANNER ?? scan.scanner, ['trivy', 'grype'] as const, 'trivy', 'scan.scanner'),
      severity: scan.severity ? severityList(scan.severity, 'scan.severity') : ['HIGH', 'CRITICAL'],
      ignoreUnfixed: scan.ignoreUnfixed ?? false,
      ignore,
      allowUnscanned: oneOf(scan.allowUnscanned, ['never', 'loopback', 'always'] as const, 'loopback', 'scan.allowUnscanned'),
      secretAllowPaths: scan.secretAllowPaths ?? [],
    },
    tags: {
      mainBranches: tags.mainBranches ?? ['main', 'master'],
      developBranches: tags.developBranches ?? ['develop'],
      aliases: tags.aliases ?? false,
      pushPullRequests: tags.pushPullRequests ?? false,
      initialVersion: tags.initialVersion ?? '0.1.0',
    },
    retention: retentionConfig(retention),
    budgets: {
      warnBytes: nonNegative(budgets.warnBytes, 500_000_000, 'budgets.warnBytes'),
      failBytes: nonNegative(budgets.failBytes, 1_000_000_000, 'budgets.failBytes'),
    },
    insecureRegistries: raw.insecureRegistries ?? [],
    caFile: raw.caFile,
    signing: signingConfig(raw.signing ?? {}, env),
  };
}
