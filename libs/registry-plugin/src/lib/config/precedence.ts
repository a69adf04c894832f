import type { AurenConfig, BuilderName, ScannerName, Severity } from './options';
import { splitList } from './lists';
import { repositoryPath } from './repository';

/**
 * The one precedence rule for a setting that can be given in more than one place:
 *
 *   environment (AUREN_*)  >  target option  >  nx.json plugin options  >  default
 *
 * What is committed (a project's target options, then the workspace's nx.json) says what every
 * machine builds, so a release is the same wherever it is made; the environment is the operator's
 * or the CI job's say for one run (`AUREN_PLATFORMS=linux/amd64` for a quick local build, the
 * release's registry), and wins over what is committed. Nx hands a command-line flag to the
 * executor as a target option, so a flag is at the option's level: a variable set in the
 * environment wins over it too. Every override follows the rule: `normalizeOptions` puts the
 * environment over nx.json (AUREN_REGISTRY, AUREN_SCANNER, AUREN_BUILDER, AUREN_SIGNING_*), and
 * `buildSettings` and `scanSettings` put a target option between the two.
 */
export interface Levels<T> {
  option: T | undefined;
  environment: T | undefined;
  plugin?: T | undefined;
  fallback: T;
}

export function resolveSetting<T>(levels: Levels<T>): T {
  return levels.environment ?? levels.option ?? levels.plugin ?? levels.fallback;
}

/**
 * The AUREN_* variables that are settings: each is read through `environmentValue`, and the ones
 * that stand in for an option follow the rule above. Read where they are used instead, and on
 * purpose:
 * - credentials: AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD (lib/registry/auth,
 *   lib/providers, lib/connect), and the registry they belong to: AUREN_REGISTRY's host, which
 *   lib/registry/auth/credentials.ts reads itself (the registry layer imports no config) and
 *   promote's `sourceEnv` sets so that they stay with our registry;
 * - tool paths: AUREN_BUILDAH_ROOT (lib/builders/buildah.ts);
 * - diagnostics: AUREN_TRACE (lib/exec/exec.ts);
 * - where the compiled option validators are kept: AUREN_VALIDATOR_CACHE_DIR
 *   (lib/config/validator-cache.ts, which loads before any setting is read);
 * - what the plugin hands to its own child processes: AUREN_WORKSPACE_ROOT and
 *   AUREN_REGISTRY_READONLY for the embedded registry's script (lib/retention/gc.ts).
 */
export type OverrideVariable =
  | 'AUREN_REGISTRY'
  | 'AUREN_SCANNER'
  | 'AUREN_BUILDER'
  | 'AUREN_PLATFORMS'
  | 'AUREN_CACHE_REPO'
  | 'AUREN_SIGNING_KEY'
  | 'AUREN_SIGNING_PUBLIC_KEY'
  | 'AUREN_SIGNING_IDENTITY'
  | 'AUREN_SIGNING_ISSUER'
  | 'AUREN_LOCAL_REGISTRY_ADDR'
  | 'AUREN_LOCAL_REGISTRY_DIR'
  | 'AUREN_BRANCH'
  | 'AUREN_LAYER_CACHE'
  | 'AUREN_PROVENANCE_BUILDER_ID'
  | 'AUREN_BATCH_CONCURRENCY';

/** A variable's value, trimmed; set but empty counts as unset, since CI systems expand a missing variable to "". */
export function environmentValue(env: NodeJS.ProcessEnv, variable: OverrideVariable): string | undefined {
  return env[variable]?.trim() || undefined;
}

/**
 * A dry run is a safety switch, not a setting with levels: the option or NX_DRY_RUN, either one,
 * makes it a dry run. The executors' schemas default `dryRun` to false, and that default must not
 * cancel a variable someone set to be sure nothing changes.
 */
export function isDryRun(options: { dryRun?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return options.dryRun === true || env.NX_DRY_RUN === 'true' || env.NX_DRY_RUN === '1';
}

/** Repositories below the namespace that hold registry build caches, one per project. */
export const BUILD_CACHE_PREFIX = 'buildcache';

/** The build options `buildSettings` decides by the one rule (part of the docker-build target's options). */
export interface BuildTargetOptions {
  /** Builder engine, over nx.json's; AUREN_BUILDER wins over it. auto: the first one available. */
  builder?: BuilderName;
  /** Target platforms (a list, or names separated by commas); AUREN_PLATFORMS wins over it. Default: the host's. */
  platforms?: readonly string[] | string;
  /** Read and write the registry layer cache in <namespace>/buildcache/<project>; AUREN_CACHE_REPO turns it on too. */
  registryCache?: boolean;
}

export interface BuildSettings {
  builder: BuilderName;
  /** Empty: the builder's own platform. */
  platforms: string[];
  /** The registry layer cache's repository for this project (`<prefix>/<project>`), when it is used. */
  cacheRepository: string | undefined;
}

/**
 * The build's settings by the one rule. `builder`: AUREN_BUILDER, else the option, else nx.json,
 * else auto (`config.builder` holds AUREN_BUILDER, checked, else nx.json, else auto).
 * `platforms`: AUREN_PLATFORMS, else the option, else the builder's platform. The registry layer
 * cache: on when AUREN_CACHE_REPO names its prefix, else `registryCache`; the prefix is
 * AUREN_CACHE_REPO, else `<registry>/<namespace>/buildcache`.
 */
export function buildSettings(
  options: BuildTargetOptions,
  config: { registry: string; namespace: string; builder: BuilderName },
  project: string,
  env: NodeJS.ProcessEnv,
): BuildSettings {
  const listed = (list: string[]) => (list.length ? list : undefined);
  const cachePrefix = environmentValue(env, 'AUREN_CACHE_REPO');
  const useCache = resolveSetting({ option: options.registryCache, environment: cachePrefix ? true : undefined, fallback: false });
  const prefix = cachePrefix ?? `${config.registry}/${repositoryPath(config, BUILD_CACHE_PREFIX)}`;
  return {
    builder: resolveSetting({ option: options.builder, environment: environmentValue(env, 'AUREN_BUILDER') ? config.builder : undefined, fallback: config.builder }),
    platforms: resolveSetting({ option: listed(splitList(options.platforms)), environment: listed(splitList(environmentValue(env, 'AUREN_PLATFORMS'))), fallback: [] }),
    cacheRepository: useCache ? `${prefix.replace(/\/+$/, '')}/${project}` : undefined,
  };
}

/** The scan options `scanSettings` decides by the one rule (part of the scan target's options). */
export interface ScanTargetOptions {
  /** Vulnerability scanner, over nx.json's scan.scanner; AUREN_SCANNER wins over it. */
  scanner?: ScannerName;
  /** Severities that block, over nx.json's scan.severity. */
  severity?: Severity[];
  /** Ignore findings that have no fixed version, over nx.json's scan.ignoreUnfixed. */
  ignoreUnfixed?: boolean;
}

/**
 * The scan policy by the one rule: AUREN_SCANNER, else the scan target's options, else nx.json,
 * else the defaults (`config.scan` holds AUREN_SCANNER, checked, else nx.json, else the default).
 */
export function scanSettings(options: ScanTargetOptions, scan: AurenConfig['scan'], env: NodeJS.ProcessEnv): AurenConfig['scan'] {
  return {
    ...scan,
    scanner: resolveSetting({ option: options.scanner, environment: environmentValue(env, 'AUREN_SCANNER') ? scan.scanner : undefined, fallback: scan.scanner }),
    severity: resolveSetting({ option: options.severity, environment: undefined, fallback: scan.severity }),
    ignoreUnfixed: resolveSetting({ option: options.ignoreUnfixed, environment: undefined, fallback: scan.ignoreUnfixed }),
  };
}
