import { join } from 'node:path';
import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import { logger } from '../shared/logger';
import { readGitContext } from '../../lib/git';
import { connectRegistry, credentialsFor } from '../../lib/connect/connect';
import { pushImage, repositoryPath } from '../../lib/pipeline/push';
import { AurenError } from '../../lib/errors/errors';
import { redactSecrets } from '../../lib/errors/redact';
import { failureEvent, historyRepository, recordPushEvent, successEvent, type PushEventInput } from '../../lib/history';
import { resolveVersion } from '../../lib/pipeline/version';
import { formatBytes } from '../../lib/reports/format';
import { preflightSigning, publishSupplyChain, SBOM_FILE, supplyChainRecord } from '../../lib/supply-chain';
import { readBuildProvenance, writePushRecord } from '../../lib/reports/records';
import { runBatch } from '../shared/batch';
import { isDryRun, loadConfig, projectInfo, runExecutor } from '../shared/context';
import type { DockerPushExecutorSchema } from './schema';

export function normalizeTags(value: string[] | string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = (Array.isArray(value) ? value : value.split(',')).map((t) => t.trim()).filter(Boolean);
  return list.length ? list : undefined;
}

/** Push a project's scanned image with its tags (the docker-push target). */
async function push(options: DockerPushExecutorSchema, context: ExecutorContext): Promise<boolean> {
  const env = process.env;
  const config = loadConfig(context, env);
  const project = projectInfo(context);
  const git = await readGitContext(context.root, env);
  const version = options.versioned === false ? undefined : await resolveVersion(context.root, project, config, git);
  const dryRun = isDryRun(options, env);
  const client = await connectRegistry(config, env);
  // A missing key, password or cosign is found before anything is pushed.
  if (!dryRun) await preflightSigning(config.signing, context.root, env);
  if (version) logger.info(`${project.name}: version ${version.version} (${version.decision.reason})`);
  const started = Date.now();
  const repository = options.repository ?? project.name;
  const history = historyRepository(config.namespace, config.historyRepository);
  // Every attempt goes to the push history in the registry (the monitor's success rate);
  // recording is best effort and never decides the push's own outcome.
  const record = async (event: PushEventInput) => {
    if (dryRun) return;
    await recordPushEvent(client, history, event).catch((error: unknown) =>
      logger.verbose(redactSecrets(`push history not updated: ${error instanceof Error ? error.message : String(error)}`, env)),
    );
  };
  const outcome = await pushImage({
    workspaceRoot: context.root,
    project,
    config,
    client,
    repository,
    extraTags: options.extraTags ?? [],
    tagsOverride: normalizeTags(options.tags),
    git,
    version,
    requireScan: options.requireScan ?? true,
    dryRun,
    log: (line) => logger.info(line),
  }).catch(async (error: unknown) => {
    if (error instanceof AurenError && error.kind !== 'input' && error.kind !== 'config') {
      await record(failureEvent({
        project: project.name,
        registry: config.registry,
        repository: repositoryPath(config, repository),
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
      logger.info(`${project.name}: ${outcome.reason}`);
      break;
    case 'pushed': {
      const r = outcome.record!;
      const untouched = r.blobs.uploaded === 0 && r.blobs.mounted === 0 && (outcome.plan?.tags ?? []).every((t) => t.action === 'unchanged');
      // A push that changed nothing (a released image fetched and found in place) is not an
      // event: recording it would add a tag to the registry on every run of every machine.
      // The history record and the supply chain below are independent registry writes: in parallel.
      const recorded = untouched ? Promise.resolve() : record(successEvent(r, { durationMs: Date.now() - started }));
      logger.info(
        untouched
          ? `${project.name}: ${r.registry}/${r.repository}@${r.digest} is already there as ${r.tags.join(', ')}; nothing to push`
          : `${project.name}: pushed ${r.registry}/${r.repository}@${r.digest} as ${r.tags.join(', ')} ` +
              `(${r.blobs.uploaded} blobs uploaded, ${formatBytes(r.blobs.bytesUploaded)}; ${r.blobs.mounted} mounted; ${r.blobs.skipped} already there)`,
      );
      // The SBOM, the signature and the provenance are keyed by the digest just pushed.
      const supplyChain = await publishSupplyChain({
        client,
        config,
        workspaceRoot: context.root,
        repository: r.repository,
        digest: r.digest,
        sbomFile: join(project.artifactDir, 'scan', SBOM_FILE),
        provenance: readBuildProvenance(project.artifactDir, project.name),
        credentials: await credentialsFor(config.registry, config, env),
        env,
        log: (line) => logger.info(`${project.name}: ${line}`),
        warn: (line) => logger.warn(`${project.name}: ${line}`),
      }).finally(() => recorded);
      // push.json says what the digest carries, for the final table (auren-registry pushed).
      await writePushRecord(project.artifactDir, { ...r, supplyChain: supplyChainRecord(supplyChain) });
      if (outcome.gitTag) logger.info(`${project.name}: git tag ${outcome.gitTag.name} ${outcome.gitTag.result}`);
      break;
    }
    default: {
      const unhandled: never = outcome.status;
      throw new Error(`unhandled push status ${String(unhandled)}`);
    }
  }
  return true;
}

export default async function dockerPushExecutor(options: DockerPushExecutorSchema, context: ExecutorContext) {
  return runExecutor(() => push(options, context));
}

/** Nx's batch implementation: every push of the batch in this one process (shared/batch.ts). */
export function batchDockerPushExecutor(taskGraph: TaskGraph, inputs: Record<string, DockerPushExecutorSchema>, _overrides: DockerPushExecutorSchema, context: ExecutorContext) {
  return runBatch(taskGraph, inputs, context, dockerPushExecutor);
}
