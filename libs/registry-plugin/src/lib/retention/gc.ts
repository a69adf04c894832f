import { existsSync } from 'node:fs';
import { AurenError } from '../errors/errors';
import { exec } from '../exec/exec';
import { isLoopbackRegistry } from '../config/options';
import { embeddedRegistry } from '../config/embedded-registry';
import type { RegistryClient } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { LOCAL_REGISTRY_SCRIPT } from '../package-files';
import { registryManifests, walkImage } from '../registry/image-graph';

/**
 * Garbage collection. Deleting a manifest only unlinks it; its blobs stay on disk until a
 * collector removes what no manifest references. For the self-hosted distribution registry we
 * run `docker-registry garbage-collect` ourselves, safely:
 * - the registry is restarted read-only first: GC while a push is in flight deletes the blobs
 *   of the image being pushed (distribution docs, "Garbage collection": "if an upload happens
 *   while GC runs, there is the risk that the image's layers are mistakenly deleted");
 * - always `--delete-untagged=false`: distribution 2.8 counts the platform manifests of a
 *   multi-arch index as untagged and deletes them (distribution/distribution#3178); our cleanup
 *   removes untagged manifests itself, never the children of a kept index;
 * - the registry is restarted normally afterwards (its blob descriptor cache is stale after GC)
 *   and every tag's manifests and blobs are checked to be retrievable.
 * Hosted registries collect on their own or through their API: that is the optional
 * `GarbageCollector` capability, implemented per provider.
 */

export interface GcReport {
  registry: string;
  mode: 'local' | 'provider' | 'automatic' | 'manual';
  dryRun: boolean;
  message: string;
  bytesBefore?: number;
  bytesAfter?: number;
  reclaimedBytes?: number;
  /** Blobs and manifests the collector removed (or would remove, in a dry run). */
  removed?: { blobs: number; manifests: number };
  verified?: { repositories: number; tags: number; manifests: number; blobs: number };
  /** `repo@digest` (or `repo:tag`) no longer retrievable after GC; empty when all is well. */
  missing: string[];
}

/** Optional capability: a registry whose storage we (or its provider's API) can collect. */
export interface GarbageCollector {
  readonly registry: string;
  garbageCollect(options: { dryRun: boolean; log: (line: string) => void }): Promise<GcReport>;
}

export type RegistryKind = 'local' | 'digitalocean' | 'docker-hub' | 'github' | 'distribution';

export function registryKind(registry: string): RegistryKind {
  if (isLoopbackRegistry(registry)) return 'local';
  if (registry === 'registry.digitalocean.com') return 'digitalocean';
  if (registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io') return 'docker-hub';
  if (registry === 'ghcr.io') return 'github';
  return 'distribution';
}

/** What to say for a registry we do not collect ourselves. */
export function gcAdvice(registry: string, dryRun: boolean): GcReport {
  const kind = registryKind(registry);
  const base = { registry, dryRun, missing: [] as string[] };
  switch (kind) {
    case 'docker-hub':
    case 'github':
      return { ...base, mode: 'automatic', message: `${registry} collects unreferenced blobs on its own; nothing to do.` };
    case 'digitalocean':
      return {
        ...base,
        mode: 'provider',
        message: `${registry}: garbage collection goes through the DigitalOcean API (doctl registry garbage-collection start --include-untagged-manifests=false); no DigitalOcean adapter is configured.`,
      };
    case 'distribution':
      return {
        ...base,
        mode: 'manual',
        message: `${registry} is a self-hosted registry we do not run: on its host, switch it to read-only (storage.maintenance.readonly.enabled: true), run \`docker-registry garbage-collect --delete-untagged=false <config>\`, then restart it normally.`,
      };
    case 'local':
      return { ...base, mode: 'local', message: `${registry} is local: use the local garbage collector.` };
    default: {
      const unhandled: never = kind;
      return unhandled;
    }
  }
}

/** How GC drives the local registry process: the plugin's local-registry script, a test instance in tests. */
export interface LocalRegistryControl {
  dataDir: string;
  /** The configuration `garbage-collect` reads (its storage section is what matters). */
  configPath(): string;
  isRunning(): Promise<boolean>;
  /** (Re)start with storage.maintenance.readonly enabled: pulls work, pushes are refused. */
  startReadOnly(): Promise<void>;
  /** (Re)start normally. */
  startNormal(): Promise<void>;
  stop(): Promise<void>;
}

export async function diskUsage(dir: string): Promise<number> {
  const { stdout } = await exec('du', ['-sb', dir]);
  return Number(stdout.trim().split(/\s+/)[0]);
}

/** HEAD every manifest and blob reachable from every tag of every repository. */
export async function verifyRegistry(client: RegistryClient, repositories: readonly string[], concurrency = 8): Promise<{ verified: NonNullable<GcReport['verified']>; missing: string[] }> {
  const verified = { repositories: repositories.length, tags: 0, manifests: 0, blobs: 0 };
  const missing: string[] = [];
  for (const repo of repositories) {
    const tags = await client.tagList(repo);
    verified.tags += tags.length;
    // Tags naming one digest, and manifests under several indexes, are fetched once.
    const graph = await walkImage(registryManifests(client, repo), tags, { concurrency });
    for (const ref of graph.missing) missing.push(`${repo}${ref.includes(':') ? '@' : ':'}${ref}`);
    verified.manifests += graph.nodes.length;
    const blobs = new Set(graph.blobs.map((b) => b.digest));
    await mapLimit([...blobs], concurrency, async (digest) => {
      verified.blobs++;
      if ((await client.blobHead(repo, digest)) === 'not-found') missing.push(`${repo}@${digest}`);
    });
  }
  return { verified, missing };
}

export interface LocalGcInput {
  client: RegistryClient;
  control: LocalRegistryControl;
  dryRun: boolean;
  log: (line: string) => void;
  /** Repositories to verify afterwards; default: the catalog. */
  repositories?: string[];
}

function countRemoved(output: string): { blobs: number; manifests: number } {
  return {
    blobs: (output.match(/blob eligible for deletion/g) ?? []).length,
    manifests: (output.match(/manifest eligible for deletion/g) ?? []).length,
  };
}

export async function collectLocalRegistry(input: LocalGcInput): Promise<GcReport> {
  const { client, control, dryRun, log } = input;
  const gcArgs = ['garbage-collect', '--delete-untagged=false', ...(dryRun ? ['--dry-run'] : []), control.configPath()];
  const bytesBefore = await diskUsage(control.dataDir);
  if (dryRun) {
    // A dry run only reads storage, so the registry can keep serving.
    const { stdout, stderr } = await exec('docker-registry', gcArgs);
    const removed = countRemoved(stdout + stderr);
    return {
      registry: client.registry,
      mode: 'local',
      dryRun,
      message: `dry run: ${removed.blobs} blobs would be removed (registry not restarted)`,
      bytesBefore,
      removed,
      missing: [],
    };
  }
  const wasRunning = await control.isRunning();
  let output = '';
  log(wasRunning ? 'restarting the registry read-only (pulls keep working, pushes are refused)' : 'registry is stopped: collecting directly');
  if (wasRunning) await control.startReadOnly();
  try {
    const result = await exec('docker-registry', gcArgs);
    output = result.stdout + result.stderr;
  } finally {
    // Normal service again even if the collector failed; a stale blob cache is why we restart.
    log('restarting the registry normally');
    await control.startNormal();
  }
  const repositories = input.repositories ?? (await client.catalogList());
  const { verified, missing } = await verifyRegistry(client, repositories);
  if (!wasRunning) await control.stop();
  const bytesAfter = await diskUsage(control.dataDir);
  const removed = countRemoved(output);
  const report: GcReport = {
    registry: client.registry,
    mode: 'local',
    dryRun,
    message: `removed ${removed.blobs} blobs, reclaimed ${bytesBefore - bytesAfter} bytes; verified ${verified.tags} tags, ${verified.manifests} manifests, ${verified.blobs} blobs`,
    bytesBefore,
    bytesAfter,
    reclaimedBytes: bytesBefore - bytesAfter,
    removed,
    verified,
    missing,
  };
  if (missing.length) {
    throw Object.assign(
      new AurenError(
        'registry',
        `after garbage collection ${missing.length} manifests or blobs are missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
        'Push the affected images again (nx run <app>:docker-push); check nothing pushed while the registry was not read-only.',
      ),
      { report },
    );
  }
  return report;
}

/** The plugin's local-registry script as the controller of the workspace's embedded registry. */
export function serveScriptControl(input: { workspaceRoot: string; env: NodeJS.ProcessEnv }): LocalRegistryControl {
  const { workspaceRoot } = input;
  const local = embeddedRegistry(workspaceRoot, input.env);
  const run = (flag: string, readonly: boolean) =>
    exec('bash', [LOCAL_REGISTRY_SCRIPT, flag], {
      cwd: workspaceRoot,
      env: { ...input.env, AUREN_WORKSPACE_ROOT: workspaceRoot, AUREN_REGISTRY_READONLY: readonly ? 'true' : 'false' },
      okExitCodes: flag === '--status' ? [1] : [],
    });
  const restart = async (readonly: boolean) => {
    if ((await run('--status', false)).exitCode === 0 && !existsSync(local.pidFile)) {
      throw new AurenError(
        'config',
        'the local registry runs in the foreground (nx run registry:serve), so garbage collection cannot switch it to read-only',
        'Stop it and start it with `nx run registry:serve:detach`, then run `nx run registry:gc` again.',
      );
    }
    await run('--stop', false);
    await run('--detach', readonly);
  };
  return {
    dataDir: local.dataDir,
    configPath: () => local.configPath,
    isRunning: async () => (await run('--status', false)).exitCode === 0,
    startReadOnly: () => restart(true),
    startNormal: () => restart(false),
    stop: async () => {
      await run('--stop', false);
    },
  };
}
