import type { AurenConfig } from '../config/options';
import { connectRegistry } from '../connect/connect';
import type { RegistryClient } from '../registry/client';
import { formatBytes } from '../reports/format';
import { attachedSummary, conflictError, describeCopyPlan, isNothingToDo, type CopyPlan, type CopyPlanResult } from './copy-plan';
import { mirrorEntries, mirrorRecordEntries, runMirror, writeMirrorRecord, type MirrorOutcome } from './mirror';
import { executePromote, planPromote, type PromoteRequest } from './promote';

/** What executors and CLI commands share: connect, plan, print the plan, act. */
export type Connect = (registry: string, env: NodeJS.ProcessEnv) => Promise<RegistryClient>;

export interface PromoteRunInput {
  request: PromoteRequest;
  config: AurenConfig;
  env: NodeJS.ProcessEnv;
  dryRun: boolean;
  log: (line: string) => void;
  /** Default: `connectRegistry` (credentials, TLS trust and insecure registries from the config). */
  connect?: Connect;
}

export interface PromoteRunOutcome {
  status: 'promoted' | 'unchanged' | 'dry-run';
  plan: CopyPlan;
  result?: CopyPlanResult;
}

export async function promoteImage(input: PromoteRunInput): Promise<PromoteRunOutcome> {
  const connect = input.connect ?? ((registry, env) => connectRegistry(input.config, env, registry));
  const { source, target } = input.request;
  const sourceClient = await connect(source.registry, input.env);
  const targetClient = target.registry === source.registry ? sourceClient : await connect(target.registry, input.env);
  const plan = await planPromote({ request: input.request, sourceClient, targetClient });
  input.log(describeCopyPlan(plan));
  if (plan.push.conflicts.length) throw conflictError(plan);
  if (input.dryRun) {
    input.log('dry run: nothing copied');
    return { status: 'dry-run', plan };
  }
  const nothingToDo = isNothingToDo(plan);
  const result = await executePromote(targetClient, plan);
  input.log(promoteSummary(plan, result));
  return { status: nothingToDo ? 'unchanged' : 'promoted', plan, result };
}

export function promoteSummary(plan: CopyPlan, result: CopyPlanResult): string {
  const tags = result.tags.map((t) => `${t.tag} (${t.status})`).join(', ');
  const moved =
    plan.mode === 'copy'
      ? `${result.uploaded} blobs copied (${formatBytes(result.bytesUploaded)}), ${result.skipped} already there`
      : plan.mode === 'mount'
        ? `${result.mounted} blobs mounted, ${result.uploaded} uploaded (${formatBytes(result.bytesUploaded)})`
        : 'no blobs moved';
  return `promoted ${plan.target.registry}/${plan.target.repository}@${plan.source.digest}: ${tags}; ${moved}${attachedSummary(plan, result.attached)}`;
}

/**
 * Credentials for a third-party source registry: AUREN_REGISTRY_USERNAME/PASSWORD are meant for
 * our registry, so they are tied to it (credentials.ts sends them to every registry unless
 * AUREN_REGISTRY names one). Docker Hub then gets DOCKERHUB_* or docker's config.json, or
 * anonymous pulls.
 */
export function sourceEnv(env: NodeJS.ProcessEnv, ourRegistry: string): NodeJS.ProcessEnv {
  return { ...env, AUREN_REGISTRY: env.AUREN_REGISTRY || ourRegistry };
}

export interface MirrorRunInput {
  images: string[];
  /** Read every image from this registry instead of its own (tests, a pull-through cache). */
  sourceRegistry: string | undefined;
  config: AurenConfig;
  env: NodeJS.ProcessEnv;
  dryRun: boolean;
  /** Absolute path of the mirror record to update; undefined: none written. */
  recordPath: string | undefined;
  log: (line: string) => void;
  connect?: Connect;
}

export async function mirrorImages(input: MirrorRunInput): Promise<MirrorOutcome[]> {
  const { config } = input;
  const connect = input.connect ?? ((registry, env) => connectRegistry(config, env, registry));
  const entries = mirrorEntries(input.images, { namespace: config.namespace, sourceRegistry: input.sourceRegistry });
  const target = await connect(config.registry, input.env);
  const outcomes = await runMirror({
    entries,
    registry: config.registry,
    target,
    sourceClient: (registry) => (registry === config.registry ? Promise.resolve(target) : connect(registry, sourceEnv(input.env, config.registry))),
    dryRun: input.dryRun,
    log: input.log,
  });
  if (input.dryRun) {
    input.log('dry run: nothing copied');
    return outcomes;
  }
  const done = mirrorRecordEntries(config.registry, outcomes);
  for (const outcome of outcomes) {
    const record = done.find((d) => d.image === outcome.entry.image);
    if (record) input.log(`${outcome.entry.image} → ${record.target} (${outcome.status}), pin ${record.pinned}`);
  }
  if (input.recordPath && done.length) await writeMirrorRecord(input.recordPath, config.registry, done);
  return outcomes;
}
