import type { Severity } from '../config/options';

/** The monitor's findings: the JSON output, and what every other format is rendered from. */
export interface MonitorReport {
  schemaVersion: 1;
  generatedAt: string;
  registry: string;
  namespace: string;
  reachability: { reachable: boolean; latencyMs?: number; apiVersion?: string; error?: string };
  storage: StorageReport;
  repositories: RepositoryReport[];
  pushes: PushReport;
  pulls: PullReport[];
  checks: Check[];
  status: Level;
  /** Wall-clock time the monitor took. */
  durationMs: number;
  /** Registry requests made. */
  requests: number;
}

export interface StorageReport {
  /** Sum of the sizes of distinct blobs (configs, layers, manifests) referenced by any tag. */
  uniqueBlobBytes: number;
  uniqueBlobs: number;
  /** statfs of the registry's data folder, when it is on this machine. */
  disk?: { path: string; totalBytes: number; freeBytes: number; usedBytes: number };
  /** What a provider says (DigitalOcean: its storage figure and tier). */
  provider?: ProviderStorage;
  /** What the percentage is computed from. */
  basis: 'provider' | 'quota' | 'disk' | 'none';
  usedBytes?: number;
  quotaBytes?: number;
  percent?: number;
}

export interface ProviderStorage {
  usedBytes: number;
  quotaBytes: number | undefined;
  /** e.g. `digitalocean:basic`. */
  source: string;
  tier?: string;
}

export interface PlatformSize {
  /** `linux/amd64`, or `unknown` for an index child without a platform. */
  platform: string;
  digest: string;
  configBytes: number;
  layerBytes: number;
  layers: number;
  /** config + layers: the compressed size a pull of this platform downloads. */
  sizeBytes: number;
}

export interface VulnerabilityCounts {
  source: 'scan-report' | 'push-history';
  at: string;
  counts: Partial<Record<Severity, number>>;
}

export interface ImageReport {
  digest: string;
  mediaType: string;
  tags: string[];
  /** The semver tag, if any (highest when several). */
  version?: string;
  /** Creation time: `org.opencontainers.image.created`, else the config's `created`, else the push time. */
  created?: string;
  platforms: PlatformSize[];
  /** Largest platform: what a single pull costs at most. */
  sizeBytes: number;
  vulnerabilities?: VulnerabilityCounts;
  /** A signature is attached (cosign bundle referrer or legacy `.sig` tag); presence, not verification. */
  signed?: boolean;
  /** An SBOM (CycloneDX, SPDX) is attached. */
  sbom?: boolean;
}

export interface RepositoryReport {
  /** Full repository path, e.g. `auren/auren-api`. */
  name: string;
  /** Name without the namespace, e.g. `auren-api`. */
  app: string;
  tagCount: number;
  images: ImageReport[];
  /** Digest of the newest image, the one checked against the thresholds. */
  newest?: string;
}

export interface PushReport {
  window: string;
  since: string;
  total: number;
  succeeded: number;
  failed: number;
  /** Percent; undefined with no pushes in the window. */
  successPercent?: number;
  byRepository: Array<{ repository: string; succeeded: number; failed: number }>;
  /** Newest failures first, at most 10. */
  recentFailures: Array<{ at: string; repository: string; error?: string }>;
  error?: string;
}

export interface PullReport {
  repository: string;
  reference: string;
  digest: string;
  platform: string;
  bytes: number;
  durationMs: number;
  error?: string;
}

export type Level = 'ok' | 'warn' | 'alert' | 'no-data';
// Grouped by where the figure comes from: the registry and its images, its traffic, the supply chain.
export type MetricName =
  | 'reachability' | 'image-size' | 'critical-vulnerabilities' | 'storage'
  | 'push-success-rate' | 'pull-latency'
  | 'unsigned-images' | 'images-without-sbom';

export interface Check {
  metric: MetricName;
  /** What was measured: a repository and platform, `registry`… */
  subject: string;
  level: Level;
  value?: number;
  unit: 'bytes' | 'count' | 'percent' | 'seconds' | 'ms' | 'bool';
  target?: number;
  alert?: number;
  /** One line a person can act on. */
  message: string;
}

/**
 * Platforms a runtime pulls: not buildx attestation manifests (`unknown/unknown`) nor children
 * without a platform. An image whose platforms are all unknown keeps them all.
 */
export function runnablePlatforms(platforms: PlatformSize[]): PlatformSize[] {
  const runnable = platforms.filter((p) => !p.platform.startsWith('unknown'));
  return runnable.length ? runnable : platforms;
}

export const LEVEL_ORDER: readonly Level[] = ['no-data', 'ok', 'warn', 'alert'];

export function worstLevel(levels: Level[]): Level {
  return levels.reduce<Level>((worst, l) => (LEVEL_ORDER.indexOf(l) > LEVEL_ORDER.indexOf(worst) ? l : worst), 'ok');
}
