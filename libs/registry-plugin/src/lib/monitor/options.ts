import { join } from 'node:path';
import { configError } from '../errors/errors';
import { embeddedRegistry, isEmbeddedRegistry } from '../config/embedded-registry';
import { isLoopbackRegistry, pluginOptions, type NxJsonPlugins } from '../config/options';
import { DEFAULT_SUPPLY_CHAIN_THRESHOLDS } from './supply-chain';

/**
 * The `monitor` section of the plugin's options in nx.json. Defaults are the team's registry
 * health table; "target" is what we aim for (missing it is a warning), "alert" is what pages
 * someone (crossing it makes the monitor exit non-zero).
 *
 * Sizes are SI bytes (500 MB = 500,000,000), the units the table is written in and the ones
 * `formatBytes` prints, so "limit 500.0 MB" in a report means what it says.
 */
export interface MonitorThresholdOptions {
  imageSizeTargetBytes?: number;
  imageSizeAlertBytes?: number;
  /** Critical vulnerabilities allowed in an app's newest image before alerting. Default 0. */
  criticalVulnerabilitiesAlert?: number;
  /** Percent of quota. */
  storageTargetPercent?: number;
  storageAlertPercent?: number;
  /** Percent of pushes in the window that succeeded. */
  pushSuccessTargetPercent?: number;
  pushSuccessAlertPercent?: number;
  pullLatencyTargetSeconds?: number;
  pullLatencyAlertSeconds?: number;
  /** Repositories whose newest image has no signature attached: above the target warns. Default 0. */
  unsignedImagesTarget?: number;
  /** …above this alerts (exit 3). Default: never (a registry without signing is a choice). */
  unsignedImagesAlert?: number;
  /** Repositories whose newest image has no SBOM attached: above the target warns. Default 0. */
  imagesWithoutSbomTarget?: number;
  /** …above this alerts. Default: never. */
  imagesWithoutSbomAlert?: number;
}

export interface MonitorOptions {
  thresholds?: MonitorThresholdOptions;
  /** Storage quota for a self-hosted registry, in bytes; providers report their own. */
  quotaBytes?: number;
  /** The registry's storage folder when it runs on this machine (statfs of its disk). */
  dataDir?: string;
  /** Repositories to watch (without namespace); default: every repository under the namespace in the catalog. */
  repositories?: string[];
  /** Push-history window, e.g. `7d`. */
  window?: string;
  /** Registry requests in flight at once. */
  concurrency?: number;
  /** Time a full pull of each app's newest image. Default true. */
  pullTest?: boolean;
}

export interface MonitorThresholds {
  imageSize: { target: number; alert: number };
  criticalVulnerabilities: { alert: number };
  storagePercent: { target: number; alert: number };
  pushSuccessPercent: { target: number; alert: number };
  pullLatencySeconds: { target: number; alert: number };
  unsignedImages: { target: number; alert: number | undefined };
  imagesWithoutSbom: { target: number; alert: number | undefined };
}

export interface MonitorConfig {
  thresholds: MonitorThresholds;
  quotaBytes: number | undefined;
  dataDir: string | undefined;
  repositories: string[] | undefined;
  window: string;
  concurrency: number;
  pullTest: boolean;
}

export const DEFAULT_THRESHOLDS: MonitorThresholds = {
  imageSize: { target: 500_000_000, alert: 1_000_000_000 },
  criticalVulnerabilities: { alert: 0 },
  storagePercent: { target: 80, alert: 90 },
  pushSuccessPercent: { target: 99, alert: 95 },
  pullLatencySeconds: { target: 30, alert: 60 },
  ...DEFAULT_SUPPLY_CHAIN_THRESHOLDS,
};

function num(value: unknown, fallback: number, origin: string, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw configError(`invalid monitor.${origin}: ${JSON.stringify(value)}`, `Use a number from 0 to ${max}.`);
  }
  return value;
}

function pair(target: number, alert: number, name: string, higherIsWorse: boolean): { target: number; alert: number } {
  if (higherIsWorse ? alert < target : alert > target) {
    throw configError(
      `monitor.thresholds: ${name} alert level ${alert} is ${higherIsWorse ? 'below' : 'above'} its target ${target}`,
      higherIsWorse ? 'The alert level must be at or above the target.' : 'The alert level must be at or below the target.',
    );
  }
  return { target, alert };
}

/** A count threshold whose alert level is optional (unset: warn only). */
function countPair(target: unknown, alert: unknown, d: { target: number; alert: number | undefined }, name: string): { target: number; alert: number | undefined } {
  const t = num(target, d.target, `thresholds.${name}Target`);
  if (alert === undefined || alert === null) return { target: t, alert: d.alert };
  return pair(t, num(alert, 0, `thresholds.${name}Alert`), name, true);
}

/**
 * All defaults and checks of the `monitor` section, once. `workspaceRoot` resolves `dataDir` and
 * finds the embedded registry's data (scripts/local-registry.sh) when the registry is the default one.
 */
export function normalizeMonitorOptions(
  raw: MonitorOptions | undefined,
  context: { workspaceRoot: string; registry: string; env?: NodeJS.ProcessEnv },
): MonitorConfig {
  const options = raw ?? {};
  if (typeof options !== 'object' || Array.isArray(options)) throw configError('the monitor options in nx.json must be an object');
  const t = options.thresholds ?? {};
  const d = DEFAULT_THRESHOLDS;
  const env = context.env ?? process.env;
  const thresholds: MonitorThresholds = {
    imageSize: pair(
      num(t.imageSizeTargetBytes, d.imageSize.target, 'thresholds.imageSizeTargetBytes'),
      num(t.imageSizeAlertBytes, d.imageSize.alert, 'thresholds.imageSizeAlertBytes'),
      'image size',
      true,
    ),
    criticalVulnerabilities: { alert: num(t.criticalVulnerabilitiesAlert, d.criticalVulnerabilities.alert, 'thresholds.criticalVulnerabilitiesAlert') },
    storagePercent: pair(
      num(t.storageTargetPercent, d.storagePercent.target, 'thresholds.storageTargetPercent', 100),
      num(t.storageAlertPercent, d.storagePercent.alert, 'thresholds.storageAlertPercent', 100),
      'storage',
      true,
    ),
    pushSuccessPercent: pair(
      num(t.pushSuccessTargetPercent, d.pushSuccessPercent.target, 'thresholds.pushSuccessTargetPercent', 100),
      num(t.pushSuccessAlertPercent, d.pushSuccessPercent.alert, 'thresholds.pushSuccessAlertPercent', 100),
      'push success rate',
      false,
    ),
    pullLatencySeconds: pair(
      num(t.pullLatencyTargetSeconds, d.pullLatencySeconds.target, 'thresholds.pullLatencyTargetSeconds'),
      num(t.pullLatencyAlertSeconds, d.pullLatencySeconds.alert, 'thresholds.pullLatencyAlertSeconds'),
      'pull latency',
      true,
    ),
    unsignedImages: countPair(t.unsignedImagesTarget, t.unsignedImagesAlert, d.unsignedImages, 'unsignedImages'),
    imagesWithoutSbom: countPair(t.imagesWithoutSbomTarget, t.imagesWithoutSbomAlert, d.imagesWithoutSbom, 'imagesWithoutSbom'),
  };
  let dataDir = options.dataDir ? join(context.workspaceRoot, options.dataDir) : undefined;
  if (options.dataDir && options.dataDir.startsWith('/')) dataDir = options.dataDir;
  if (!dataDir && isEmbeddedRegistry(context.registry, context.workspaceRoot, env) && isLoopbackRegistry(context.registry)) {
    dataDir = embeddedRegistry(context.workspaceRoot, env).dataDir;
  }
  const concurrency = num(options.concurrency, 16, 'concurrency', 256);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw configError('monitor.concurrency must be a whole number from 1 to 256');
  if (options.repositories !== undefined && (!Array.isArray(options.repositories) || options.repositories.some((r) => typeof r !== 'string'))) {
    throw configError('monitor.repositories must be a list of repository names');
  }
  return {
    thresholds,
    quotaBytes: options.quotaBytes === undefined ? undefined : num(options.quotaBytes, 0, 'quotaBytes') || undefined,
    dataDir,
    repositories: options.repositories,
    window: options.window ?? '7d',
    concurrency,
    pullTest: options.pullTest ?? true,
  };
}

/** The `monitor` section as written in nx.json's plugin entry (not part of AurenConfig yet). */
export function monitorOptionsFromNxJson(nxJson: NxJsonPlugins | undefined): MonitorOptions | undefined {
  return pluginOptions(nxJson).monitor as MonitorOptions | undefined;
}
