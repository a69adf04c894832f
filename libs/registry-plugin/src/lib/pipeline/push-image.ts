import { join } from 'node:path';
import type { AurenConfig } from '../config/options';
import { splitList } from '../config/lists';
import { projectRepository, repositoryPath } from '../config/repository';
import { connectRegistry, credentialsFor } from '../connect/connect';
import { AurenError } from '../errors/errors';
import { redactSecrets } from '../errors/redact';
import { readGitContext } from '../git';
import { failureEvent, historyRepository, recordPushEvent, successEvent, type PushEventInput } from '../history';
import type { RegistryClient } from '../registry/client';
import { formatBytes } from '../reports/format';
import { readBuildProvenance, writePushRecord, type PushRecord } from '../reports/records';
import { preflightSigning, publishSupplyChain, SBOM_FILE, supplyChainRecord, type PublishOutcome } from '../supply-chain';
// The registry step of the use case below: plan the tags, check the scan, send the image.
import { pushToRegistry, type PushOutcome } from './push';
import { resolveVersion, type ResolvedVersion } from './version';

/**
 * docker-push's options, declared here once: the executor's schema.d.ts re-exports this type, and
 * a workspace test checks that it names exactly the properties of the executor's schema.json.
 */
export interface PushImageOptions {
  /** Repository below the configured namespace; default: the project name. */
  repository?: string;
  /** Tags pushed in addition to the strategy's (they may move). */
  extraTags?: string[];
  /** Push exactly these tags instead of the tag strategy's (a list, or tags separated by commas). */
  tags?: string[] | string;
  /** Derive the version and tags from git (conventional commits); false: tag <branch>-<sha7> only. */
  versioned?: boolean;
  /** Refuse to push an image without a passing scan report for the same digest. */
  requireScan?: boolean;
  /** Print the version, tags and what would be uploaded, and change nothing (NX_DRY_RUN does the same). */
  dryRun?: boolean;
}

export interface NormalizedPushImageOptions {
  /** Below the namespace. */
  repository: string;
  extraTags: string[];
  /** The exact tags to push instead of the strategy's, when given. */
  tags: string[] | undefined;
  versioned: boolean;
  requireScan: boolean;
  dryRun: boolean;
}

/** `dryRun` is the option or NX_DRY_RUN, decided by the caller. */
export function normalizePushImageOptions(options: PushImageOptions, project: { name: string }, dryRun: boolean): NormalizedPushImageOptions {
  const tags = splitList(options.tags);
  return {
    repository: projectRepository(project.name, options),
    extraTags: options.extraTags ?? [],
    tags: tags.length ? tags : undefined,
    versioned: options.versioned !== false,
    requireScan: options.requireScan ?? true,
    dryRun,
  };
}

export interface PushImageInput {
  workspaceRoot: string;
  project: { name: string; artifactDir: string; inputRoots: string[] };
  config: AurenConfig;
  options: NormalizedPushImageOptions;
}

export interface PushImageIo {
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  warn: (line: string) => void;
  verbose: (line: string) => void;
  /** Default: `connectRegistry` (credentials, TLS trust and insecure registries from the config). */
  connect?: (config: AurenConfig, env: NodeJS.ProcessEnv) => Promise<RegistryClient>;
}

export type PushImageResult =
  | { status: 'skipped' | 'dry-run'; reason: string; version: ResolvedVersion | undefined }
  | {
      /** `unchanged`: the image and every tag were already in place (a released image fetched). */
      status: 'pushed' | 'unchanged';
      version: ResolvedVersion | undefined;
      record: PushRecord;
      supplyChain: PublishOutcome;
      gitTag: PushOutcome['gitTag'];
    };

/**
 * The docker-push use case: push a project's scanned image with its tags, then attach its SBOM,
 * signature, provenance and VEX to the digest, and record the attempt in the push history.
 */
export async function pushImage(input: PushImageInput, io: PushImageIo): Promise<PushImageResult> {
  const { workspaceRoot, project, config, options } = input;
  const { env } = io;
  const { dryRun } = options;
  const git = await readGitContext(workspaceRoot, env);
  const version = options.versioned ? await resolveVersion(workspaceRoot, project, config, git) : undefined;
  const client = await (io.connect ?? connectRegistry)(config, env);
  // A missing key, password or cosign is found before anything is pushed.
  if (!dryRun) await preflightSigning(config.signing, workspaceRoot, env);
  if (version) io.log(`${project.name}: version ${version.version} (${version.decision.reason})`);
  const started = Date.now();
  const history = historyRepository(config.namespace, config.historyRepository);
  // Every attempt goes to the push history in the registry (the monitor's success rate);
  // recording is best effort and never decides the push's own outcome.
  const record = async (event: PushEventInput) => {
    if (dryRun) return;
    await recordPushEvent(client, history, event).catch((error: unknown) =>
      io.verbose(redactSecrets(`push history not updated: ${error instanceof Error ? error.message : String(error)}`, env)),
    );
  };
  const outcome = await pushToRegistry({
    workspaceRoot,
    project,
    config,
    client,
    repository: options.repository,
    extraTags: options.extraTags,
    tagsOverride: options.tags,
    git,
    version,
    requireScan: options.requireScan,
    dryRun,
    log: io.log,
  }).catch(async (error: unknown) => {
    if (error instanceof AurenError && error.kind !== 'input' && error.kind !== 'config') {
      await record(failureEvent({
        project: project.name,
        registry: config.registry,
        repository: repositoryPath(config, options.repository),
        // The history lives in the registry, readable by everyone who can pull: no secrets.
        error: redactSecrets(error.message, env),
        version: version?.version,
        durationMs: Date.now() - started,
        git: { sha: git.sha, branch: git.branch },
      }));
    }
    throw error;
  });
  switch (outcome.status) {
    case 'skipped':
    case 'dry-run':
      return { status: outcome.status, reason: outcome.reason, version };
    case 'pushed': {
      const r = outcome.record!;
      const untouched = r.blobs.uploaded === 0 && r.blobs.mounted === 0 && (outcome.plan?.tags ?? []).every((t) => t.action === 'unchanged');
      // A push that changed nothing (a released image fetched and found in place) is not an
      // event: recording it would add a tag to the registry on every run of every machine.
      // The history record and the supply chain below are independent registry writes: in parallel.
      const recorded = untouched ? Promise.resolve() : record(successEvent(r, { durationMs: Date.now() - started }));
      io.log(
        untouched
          ? `${project.name}: ${r.registry}/${r.repository}@${r.digest} is already there as ${r.tags.join(', ')}; nothing to push`
          : `${project.name}: pushed ${r.registry}/${r.repository}@${r.digest} as ${r.tags.join(', ')} ` +
              `(${r.blobs.uploaded} blobs uploaded, ${formatBytes(r.blobs.bytesUploaded)}; ${r.blobs.mounted} mounted; ${r.blobs.skipped} already there)`,
      );
      // The SBOM, the signature and the provenance are keyed by the digest just pushed.
      const supplyChain = await publishSupplyChain({
        client,
        config,
        workspaceRoot,
        repository: r.repository,
        digest: r.digest,
        sbomFile: join(project.artifactDir, 'scan', SBOM_FILE),
        scan: r.scan,
        provenance: readBuildProvenance(project.artifactDir, project.name),
        credentials: await credentialsFor(config.registry, config, env),
        env,
        log: (line) => io.log(`${project.name}: ${line}`),
        warn: (line) => io.warn(`${project.name}: ${line}`),
      }).finally(() => recorded);
      // push.json says what the digest carries, for the final table (auren-registry pushed).
      const pushed = { ...r, supplyChain: supplyChainRecord(supplyChain) };
      await writePushRecord(project.artifactDir, pushed);
      return { status: untouched ? 'unchanged' : 'pushed', version, record: pushed, supplyChain, gitTag: outcome.gitTag };
    }
    default: {
      const unhandled: never = outcome.status;
      throw new Error(`unhandled push status ${String(unhandled)}`);
    }
  }
}
