import semver from 'semver';
import { AurenError } from '../errors/errors';
import { catalogImageRepositories, historyRepository, readPushHistory, type PushEvent } from '../history';
import { parseWindow } from '../history/window';
import type { RegistryClient } from '../registry/client';
import { MAX_CONFIG_BYTES, parseManifest, readConfig, type ParsedManifest } from '../registry/image-graph';
import { formatPlatform } from '../registry/media-types';
import { alerts, evaluate } from './evaluate';
import { createLimiter, memo, type Limiter } from './limiter';
import type { MonitorConfig } from './options';
import { timePull } from './pull';
import type { ImageReport, MonitorReport, PlatformSize, PullReport, PushReport, RepositoryReport, StorageReport } from './report';
import { runnablePlatforms, worstLevel } from './report';
import { readScanReports, vulnerabilitiesOf } from './scan-reports';
import { diskUsage, type StorageUsage } from './storage';
import { pushReport, storageReport } from './summaries';
import { attachedFacts, isReferrerTag } from './supply-chain';

export interface MonitorInput {
  client: RegistryClient;
  registry: string;
  namespace: string;
  config: MonitorConfig;
  /** The push history's repository name under the namespace (the plugin's `historyRepository`). */
  historyRepository?: string;
  /** Where `dist/images/*\/scan/report.json` are read from. */
  workspaceRoot: string;
  /** A provider adapter's storage figure (DigitalOcean), when it has one. */
  storageUsage?: StorageUsage;
  now?: Date;
  log?: (line: string) => void;
}

const CREATED = 'org.opencontainers.image.created';

interface ManifestInfo {
  mediaType: string;
  digest: string;
  bytes: number;
  manifest: ParsedManifest;
}

/** Measures everything the health table asks for; never throws for a metric it cannot measure. */
export async function runMonitor(input: MonitorInput): Promise<MonitorReport> {
  const started = Date.now();
  const now = input.now ?? new Date();
  const log = input.log ?? (() => undefined);
  const { registry, namespace, config } = input;
  let requests = 0;
  const limit = createLimiter(config.concurrency);
  const counted: Limiter = (task) => {
    requests++;
    return limit(task);
  };
  const client = input.client;
  const window = parseWindow(config.window, now);

  let reachability: MonitorReport['reachability'];
  try {
    requests++;
    const ping = await client.ping();
    reachability = { reachable: true, latencyMs: ping.latencyMs, apiVersion: ping.apiVersion };
  } catch (error) {
    reachability = { reachable: false, error: error instanceof Error ? error.message : String(error) };
  }

  const emptyStorage: StorageReport = { uniqueBlobBytes: 0, uniqueBlobs: 0, basis: 'none' };
  const emptyPushes: PushReport = { window: window.spec, since: window.since.toISOString(), total: 0, succeeded: 0, failed: 0, byRepository: [], recentFailures: [] };
  if (!reachability.reachable) {
    const measured = { registry, reachability, storage: emptyStorage, repositories: [], pushes: { ...emptyPushes, error: 'registry not reachable' }, pulls: [] };
    const checks = evaluate(measured, config.thresholds).filter((c) => c.metric === 'reachability');
    return finish(measured, checks);
  }

  const historyRepo = historyRepository(namespace, input.historyRepository);
  const [repoNames, history, scanReports, provider] = await Promise.all([
    listRepositories(client, namespace, config.repositories, input.historyRepository),
    readPushHistory(client, historyRepo, window, { concurrency: config.concurrency }).then(
      (events) => ({ events, error: undefined as string | undefined }),
      (error: unknown) => ({ events: [] as PushEvent[], error: error instanceof Error ? error.message : String(error) }),
    ),
    readScanReports(input.workspaceRoot),
    input.storageUsage?.storageUsage().catch((error: unknown) => {
      log(`storage figure from the provider is unavailable: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }),
  ]);
  log(`monitoring ${repoNames.length} repositories on ${registry}`);

  // Manifests are content-addressed: one fetch per digest, whichever tag or index names it.
  const manifestByDigest = memo<ManifestInfo>();
  const configCache = memo<{ created?: string; platform?: string }>();
  const blobs = new Map<string, number>();

  async function fetchManifest(repo: string, ref: string): Promise<ManifestInfo | undefined> {
    const got = await counted(() => client.manifestGet(repo, ref));
    if (got === 'not-found') return undefined; // deleted between tag list and get
    const info: ManifestInfo = { mediaType: got.mediaType, digest: got.digest, bytes: got.body.length, manifest: parseManifest(got.body, got.mediaType) };
    return info;
  }

  async function childManifest(repo: string, digest: string): Promise<ManifestInfo | undefined> {
    return manifestByDigest(digest, async () => {
      const info = await fetchManifest(repo, digest);
      if (!info) throw new AurenError('registry', `manifest ${digest} is listed in an index in ${repo} but missing`, 'The index is broken; push the image again.');
      return info;
    }).catch(() => undefined);
  }

  /** The image config's `created` and platform: one small, deduplicated blob read per image. */
  async function configInfo(repo: string, manifest: ManifestInfo): Promise<{ created?: string; platform?: string }> {
    const cfg = manifest.manifest.config;
    if (!cfg?.digest || !/config/.test(cfg.mediaType ?? '') || (cfg.size ?? 0) > MAX_CONFIG_BYTES) return {};
    return configCache(cfg.digest, () =>
      counted(async () => {
        const parsed = (await readConfig(client, repo, cfg.digest)) ?? {};
        const platform =
          typeof parsed.os === 'string' && typeof parsed.architecture === 'string'
            ? formatPlatform({ os: parsed.os, architecture: parsed.architecture, variant: typeof parsed.variant === 'string' ? parsed.variant : undefined })
            : undefined;
        return { created: typeof parsed.created === 'string' ? parsed.created : undefined, platform };
      }).catch(() => ({})),
    );
  }

  function platformSize(platform: string, m: ManifestInfo): PlatformSize {
    const configBytes = m.manifest.config?.size ?? 0;
    const layers = m.manifest.layers;
    const layerBytes = layers.reduce((sum, l) => sum + l.size, 0);
    blobs.set(m.digest, m.bytes);
    if (m.manifest.config) blobs.set(m.manifest.config.digest, configBytes);
    for (const l of layers) blobs.set(l.digest, l.size);
    return { platform, digest: m.digest, configBytes, layerBytes, layers: layers.length, sizeBytes: configBytes + layerBytes };
  }

  async function describeImage(repo: string, top: ManifestInfo, tags: string[]): Promise<ImageReport> {
    let platforms: PlatformSize[];
    let created: string | undefined = top.manifest.annotations[CREATED];
    if (top.manifest.kind === 'index') {
      blobs.set(top.digest, top.bytes);
      const children = top.manifest.children;
      const sized = await Promise.all(
        children.map(async (child) => {
          const m = await childManifest(repo, child.digest);
          if (!m) return undefined;
          // Attestations (buildx provenance) are listed as unknown/unknown: not a runnable platform.
          const platform = child.platform ? formatPlatform(child.platform) : 'unknown';
          if (!created) created = (await configInfo(repo, m)).created;
          return platformSize(platform, m);
        }),
      );
      platforms = sized.filter((p): p is PlatformSize => !!p);
    } else {
      const info = await configInfo(repo, top);
      platforms = [platformSize(info.platform ?? 'unknown', top)];
      created ??= info.created;
    }
    const versions = tags.map((t) => semver.valid(t.replace(/^v/, ''))).filter((v): v is string => !!v);
    const version = versions.sort(semver.rcompare)[0];
    return {
      digest: top.digest,
      mediaType: top.mediaType,
      tags: [...tags].sort(),
      version,
      created,
      platforms,
      sizeBytes: Math.max(0, ...runnablePlatforms(platforms).map((p) => p.sizeBytes)),
    };
  }

  const pushedAt = new Map<string, string>();
  for (const e of history.events) if (e.outcome === 'success' && e.digest && !pushedAt.has(e.digest)) pushedAt.set(e.digest, e.at);

  const repositories: RepositoryReport[] = await Promise.all(
    repoNames.map(async (name): Promise<RepositoryReport> => {
      const tags = await counted(() => client.tagList(name));
      const tops = await Promise.all(
        tags.map(async (tag) => {
          const m = await fetchManifest(name, tag);
          if (m) manifestByDigest(m.digest, async () => m);
          return m ? { tag, m } : undefined;
        }),
      );
      // Referrer tags (`sha256-<hex>`, cosign's `.sig`) hold an image's SBOM and signature: facts
      // about that image, not images of their own.
      const attached = attachedFacts(
        tops.flatMap((t) => (t && isReferrerTag(t.tag) ? [{ tag: t.tag, descriptors: t.m.manifest.children }] : [])),
      );
      const byDigest = new Map<string, { m: ManifestInfo; tags: string[] }>();
      for (const t of tops) {
        if (!t || isReferrerTag(t.tag)) continue;
        const entry = byDigest.get(t.m.digest) ?? { m: t.m, tags: [] };
        entry.tags.push(t.tag);
        byDigest.set(t.m.digest, entry);
      }
      const images = await Promise.all([...byDigest.values()].map((e) => describeImage(name, e.m, e.tags)));
      for (const image of images) {
        image.created ??= pushedAt.get(image.digest);
        image.vulnerabilities = vulnerabilitiesOf(image.digest, scanReports, history.events);
        image.signed = attached.get(image.digest)?.signed ?? false;
        image.sbom = attached.get(image.digest)?.sbom ?? false;
      }
      images.sort(newestFirst);
      const app = namespace && name.startsWith(`${namespace}/`) ? name.slice(namespace.length + 1) : name;
      return { name, app, tagCount: tags.filter((t) => !isReferrerTag(t)).length, images, newest: images[0]?.digest };
    }),
  );

  // Pulls run one app at a time after the listing, so the figure is a pull's, not a pull
  // competing with our own thousands of manifest requests.
  const pulls: PullReport[] = [];
  if (config.pullTest) {
    for (const repo of repositories) {
      const image = repo.images.find((i) => i.digest === repo.newest);
      if (!image) continue;
      requests += 2 + (image.platforms[0]?.layers ?? 0);
      pulls.push(await timePull(client, repo.name, image));
    }
  }

  const storage = storageReport(blobs, await (config.dataDir ? diskUsage(config.dataDir) : undefined), provider, config.quotaBytes);
  const pushes = pushReport(history.events, history.error, window.spec, window.since);
  const measured = { registry, reachability, storage, repositories, pushes, pulls };
  return finish(measured, evaluate(measured, config.thresholds));

  function finish(m: Omit<MonitorReport, 'schemaVersion' | 'generatedAt' | 'namespace' | 'checks' | 'status' | 'durationMs' | 'requests'>, checks: MonitorReport['checks']): MonitorReport {
    return {
      schemaVersion: 1,
      generatedAt: now.toISOString(),
      namespace,
      ...m,
      checks,
      status: alerts(checks).length ? 'alert' : worstLevel(checks.map((c) => (c.level === 'no-data' ? 'ok' : c.level))),
      durationMs: Date.now() - started,
      requests,
    };
  }
}

function newestFirst(a: ImageReport, b: ImageReport): number {
  const ta = a.created ? Date.parse(a.created) : NaN;
  const tb = b.created ? Date.parse(b.created) : NaN;
  if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return tb - ta;
  if (!Number.isNaN(ta) !== !Number.isNaN(tb)) return Number.isNaN(ta) ? 1 : -1;
  if (a.version && b.version) return semver.rcompare(a.version, b.version);
  if (!!a.version !== !!b.version) return a.version ? -1 : 1;
  return a.digest.localeCompare(b.digest);
}

async function listRepositories(client: RegistryClient, namespace: string, configured: string[] | undefined, historyName: string | undefined): Promise<string[]> {
  if (configured) return configured.map((r) => (namespace && !r.startsWith(`${namespace}/`) ? `${namespace}/${r}` : r));
  return catalogImageRepositories(client, namespace, 'Some registries (GHCR, Docker Hub) have no catalog: list the apps in monitor.repositories in nx.json.', historyName);
}
