import { configError } from '../errors/errors';
import { registryOverride } from './registry-address';
import { environmentValue } from './precedence';
import { checkEnvironmentOverride, checkPluginOptions } from './schema';

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
  /** OpenVEX documents (paths or globs relative to the workspace root): accepted findings, attested to the digest. */
  vex?: string[];
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
 * - none of them: pushes to a loopback registry (the embedded one) are signed with a local key
 *   pair the plugin makes on first use in `.auren/signing/` (lib/supply-chain/local-key.ts);
 *   `signing: false` signs nothing.
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
  /** `signing: false`: nothing is signed, not even with the local key pair. */
  | { mode: 'off'; publicKey: undefined; tlog: false }
  /** No key and no keyless identity: the local key pair for a loopback registry. */
  | { mode: 'local'; publicKey: undefined; tlog: false }
  /** Only `publicKey`: this machine verifies (a deploy host) and signs nothing. */
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
  /** The `org.opencontainers.image.vendor` label of every image built. */
  vendor?: string;
  /** The push history's repository under the namespace. */
  historyRepository?: string;
  /** `false` signs nothing (no local key pair either). */
  signing?: SigningOptions | false;
  /** The registry monitor's section, checked by its own options (lib/monitor/options.ts). */
  monitor?: Record<string, unknown>;
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
  vendor: string;
  historyRepository: string;
  signing: SigningConfig;
}

// In a module of their own, so a light reader (the scan fingerprint) need not load the schema.
export { DEFAULT_NAMESPACE, DEFAULT_REGISTRY } from './defaults';
import { DEFAULT_HISTORY_REPOSITORY, DEFAULT_NAMESPACE, DEFAULT_REGISTRY, DEFAULT_VENDOR } from './defaults';

// Address rules live with the insecure-registry rule; re-exported for existing callers.
export { isInsecureRegistry, parseRegistryOverride, registryOverride, validateNamespace, validateRegistryHost } from './registry-address';

// Defined by the registry layer (it decides the scheme); re-exported for existing callers.
export { isLoopbackRegistry } from '../registry/reference';

const RETENTION_DEFAULTS: Required<RetentionRules> = { keepReleases: 10, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: false };

function retentionRules(rules: RetentionRules, base: Required<RetentionRules>): Required<RetentionRules> {
  return {
    keepReleases: rules.keepReleases ?? base.keepReleases,
    keepPatterns: rules.keepPatterns ?? base.keepPatterns,
    devMaxAgeDays: rules.devMaxAgeDays ?? base.devMaxAgeDays,
    deleteUntagged: rules.deleteUntagged ?? base.deleteUntagged,
  };
}

function retentionConfig(retention: RetentionOptions): RetentionConfig {
  const common = retentionRules(retention, RETENTION_DEFAULTS);
  return {
    ...common,
    overrides: Object.fromEntries(Object.entries(retention.overrides ?? {}).map(([key, rules]) => [key, retentionRules(rules, common)])),
  };
}

/** The rules for one repository: an override named by repository, else by app, else the common ones. */
export function retentionFor(config: Pick<AurenConfig, 'namespace' | 'retention'>, repository: string): Required<RetentionRules> {
  const { overrides, ...common } = config.retention;
  const app = config.namespace && repository.startsWith(`${config.namespace}/`) ? repository.slice(config.namespace.length + 1) : repository;
  return overrides[repository] ?? overrides[app] ?? common;
}

/**
 * `signing` from nx.json with the CI overrides on top: AUREN_SIGNING_KEY / AUREN_SIGNING_PUBLIC_KEY
 * (a key pair or KMS), or AUREN_SIGNING_IDENTITY with AUREN_SIGNING_ISSUER (keyless). Keyless
 * needs an override because the identity names the workflow's own ref (…/release.yml@refs/heads/
 * main or …@refs/heads/develop), which only the run knows, and a workstation cannot sign keyless.
 */
function signingConfig(options: SigningOptions | false, env: NodeJS.ProcessEnv): SigningConfig {
  const identityOverride = environmentOverride(env, 'AUREN_SIGNING_IDENTITY');
  const issuerOverride = environmentOverride(env, 'AUREN_SIGNING_ISSUER');
  if (!identityOverride !== !issuerOverride) {
    throw configError('AUREN_SIGNING_IDENTITY and AUREN_SIGNING_ISSUER must be set together', 'Set both for keyless signing in CI (e.g. the workflow ref and https://token.actions.githubusercontent.com), or neither.');
  }
  const keylessOverride = identityOverride !== undefined;
  // An override still wins over `false`: CI turns signing on for a workspace that does not sign locally.
  if (options === false && !environmentOverride(env, 'AUREN_SIGNING_KEY') && !keylessOverride) return { mode: 'off', publicKey: undefined, tlog: false };
  const raw = options || {};
  const key = environmentOverride(env, 'AUREN_SIGNING_KEY') ?? raw.key;
  const publicKey = environmentOverride(env, 'AUREN_SIGNING_PUBLIC_KEY') ?? raw.publicKey;
  if (raw.keyless === true || keylessOverride) {
    if (key) throw configError(`${keylessOverride ? 'AUREN_SIGNING_IDENTITY (keyless)' : 'signing.keyless'} and signing.key (or AUREN_SIGNING_KEY) are both set`, 'Choose one: a key pair, or keyless signing in CI.');
    const identity = identityOverride ?? raw.identity;
    const issuer = issuerOverride ?? raw.issuer;
    if (!identity || !issuer) {
      throw configError(
        'signing.keyless needs signing.identity and signing.issuer',
        'They are what `cosign verify` checks in the certificate, e.g. identity https://github.com/<org>/<repo>/.github/workflows/release.yml@refs/heads/main and issuer https://token.actions.githubusercontent.com.',
      );
    }
    return { mode: 'keyless', identity, issuer, publicKey: undefined, tlog: true };
  }
  if (key) return { mode: 'key', key, publicKey, tlog: raw.tlog ?? false };
  if (publicKey) return { mode: 'none', publicKey, tlog: false };
  return { mode: 'local', publicKey: undefined, tlog: false };
}

/**
 * An AUREN_* override, checked like the option it replaces. Set but empty counts as unset: CI
 * systems expand a missing variable to "".
 */
function environmentOverride(env: NodeJS.ProcessEnv, variable: 'AUREN_SCANNER' | 'AUREN_BUILDER' | 'AUREN_SIGNING_KEY' | 'AUREN_SIGNING_PUBLIC_KEY' | 'AUREN_SIGNING_IDENTITY' | 'AUREN_SIGNING_ISSUER'): string | undefined {
  const value = environmentValue(env, variable);
  return value ? checkEnvironmentOverride(variable, value) : undefined;
}

/**
 * nx.json's plugin options (and the AUREN_* overrides) checked against their schema
 * (plugin-options.schema.json), then every default applied once: the result is fully typed,
 * and anything the schema does not allow is refused with the option's path, never coerced.
 * A variable goes over the nx.json option it stands in for; a target's options go over both
 * (the rule in precedence.ts).
 */
export function normalizeOptions(
  options: RegistryPluginOptions | undefined,
  env: NodeJS.ProcessEnv = process.env,
): AurenConfig {
  const raw = options ?? {};
  checkPluginOptions(raw);
  const override = registryOverride(env);
  const registry = override?.registry ?? raw.registry ?? DEFAULT_REGISTRY;
  const namespace = override?.namespace ?? raw.namespace ?? DEFAULT_NAMESPACE;
  const scan = raw.scan ?? {};
  const tags = raw.tags ?? {};
  const budgets = raw.budgets ?? {};
  return {
    registry,
    namespace,
    builder: (environmentOverride(env, 'AUREN_BUILDER') as BuilderName | undefined) ?? raw.builder ?? 'auto',
    baseImages: Object.fromEntries(
      Object.entries(raw.baseImages ?? {}).map(([from, to]) => [from, to.replace(/\{registry\}/g, registry).replace(/\{namespace\}/g, namespace)]),
    ),
    scan: {
      scanner: (environmentOverride(env, 'AUREN_SCANNER') as ScannerName | undefined) ?? scan.scanner ?? 'trivy',
      severity: scan.severity ? [...new Set(scan.severity)] : ['HIGH', 'CRITICAL'],
      ignoreUnfixed: scan.ignoreUnfixed ?? false,
      ignore: (scan.ignore ?? []).map((rule) => ({ ...rule })),
      allowUnscanned: scan.allowUnscanned ?? 'loopback',
      secretAllowPaths: scan.secretAllowPaths ?? [],
      vex: scan.vex ?? [],
    },
    tags: {
      mainBranches: tags.mainBranches ?? ['main', 'master'],
      developBranches: tags.developBranches ?? ['develop'],
      aliases: tags.aliases ?? false,
      pushPullRequests: tags.pushPullRequests ?? false,
      initialVersion: tags.initialVersion ?? '0.1.0',
    },
    retention: retentionConfig(raw.retention ?? {}),
    budgets: {
      warnBytes: budgets.warnBytes ?? 500_000_000,
      failBytes: budgets.failBytes ?? 1_000_000_000,
    },
    insecureRegistries: raw.insecureRegistries ?? [],
    caFile: raw.caFile,
    vendor: raw.vendor ?? DEFAULT_VENDOR,
    historyRepository: raw.historyRepository ?? DEFAULT_HISTORY_REPOSITORY,
    signing: signingConfig(raw.signing ?? {}, env),
  };
}

/** An entry of nx.json's `plugins`: a bare name, or the name with options. */
export type NxJsonPluginEntry = string | { plugin: string; options?: unknown };

/** nx.json as far as the plugin reads it. */
export interface NxJsonPlugins {
  plugins?: NxJsonPluginEntry[];
}

/** Whether an entry of nx.json's `plugins` is this plugin's (a bare string counts). */
export function isPluginEntry(entry: NxJsonPluginEntry): boolean {
  return (typeof entry === 'string' ? entry : entry.plugin) === PLUGIN_NAME;
}

/** The plugin's options in nx.json's `plugins` (none for a bare string entry, an entry without options or no entry). */
export function pluginOptions(nxJson: NxJsonPlugins | undefined): RegistryPluginOptions {
  const entry = (nxJson?.plugins ?? []).find(isPluginEntry);
  return (entry && typeof entry !== 'string' ? (entry.options as RegistryPluginOptions | undefined) : undefined) ?? {};
}
