import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { requireComposeFile } from '../compose';
import { validateRegistryHost } from '../config/options';
import { AurenError, inputError } from '../errors/errors';
import { isDigest } from '../registry/digest';
import { isValidRepository } from '../registry/reference';
import { PUSH_RECORD, imageDir, readRecordJson, type PushRecord } from '../reports/records';

/**
 * A deploy manifest is a Compose override that pins every service the pipeline pushed to the
 * exact digest it pushed (`<registry>/<repository>@<digest>`), so `docker compose -f
 * docker-compose.prod.yml -f <override> up` runs byte for byte what was scanned, whatever the
 * tags point at by then.
 */

export interface PinnedService {
  service: string;
  image: string;
  digest: string;
  version: string | undefined;
  tags: string[];
  pushedAt: string;
}

export type SkipReason = 'no-push-record' | 'dry-run-push';

export interface SkippedService {
  service: string;
  reason: SkipReason;
  record: string;
}

export interface DeployPlan {
  composeFile: string;
  output: string;
  pinned: PinnedService[];
  /** App services left out of the override, with why; they keep the image the compose file names. */
  skipped: SkippedService[];
  /** Services the pipeline does not build (databases, brokers): never pinned, not reported. */
  external: string[];
}

export interface PlanInput {
  workspaceRoot: string;
  /** Compose file, relative to the workspace root. */
  composeFile: string;
  /** Override to write, relative to the workspace root. */
  output: string;
  /** Projects the workspace builds images for; a compose service with the same name is an app. */
  projects: string[];
  /** Restrict to these services; empty means every app service. */
  services: string[];
}

const recordPath = (service: string) => `${imageDir(service)}/${PUSH_RECORD}`;

function composeServices(workspaceRoot: string, composeFile: string): string[] {
  const compose = requireComposeFile(
    join(workspaceRoot, composeFile),
    composeFile,
    'Pass --composeFile with the path of the production compose file, relative to the workspace root.',
  );
  return compose.services.map((s) => s.name);
}

/** Reads and checks one push record; anything malformed is an error naming the file and the field. */
export function readPushRecord(workspaceRoot: string, service: string): PushRecord | undefined {
  const rel = recordPath(service);
  let raw: unknown;
  try {
    raw = readRecordJson(join(workspaceRoot, rel), '');
  } catch (error) {
    throw malformed(rel, service, `it is not JSON (${(error as Error).message})`);
  }
  return raw === undefined ? undefined : validatePushRecord(raw, rel, service);
}

function malformed(rel: string, service: string, why: string): AurenError {
  return inputError(
    `${rel} is not a valid push record: ${why}`,
    `Push the image again to rewrite it (nx run ${service}:docker-push), or delete the file to leave ${service} out of the deploy manifest.`,
  );
}

export function validatePushRecord(raw: unknown, rel: string, service: string): PushRecord {
  const fail = (why: string) => malformed(rel, service, why);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw fail('expected a JSON object');
  const record = raw as Record<string, unknown>;
  if (record.schemaVersion !== 1) throw fail(`unsupported schemaVersion ${JSON.stringify(record.schemaVersion)} (expected 1)`);
  if (record.project !== service) throw fail(`it belongs to project ${JSON.stringify(record.project)}, not ${service}`);
  if (typeof record.registry !== 'string') throw fail('"registry" is missing');
  try {
    validateRegistryHost(record.registry, rel);
  } catch {
    throw fail(`"registry" ${JSON.stringify(record.registry)} is not host[:port]`);
  }
  if (typeof record.repository !== 'string' || !isValidRepository(record.repository)) {
    throw fail(`"repository" ${JSON.stringify(record.repository)} is not a repository name`);
  }
  if (typeof record.digest !== 'string' || !isDigest(record.digest)) {
    throw fail(`"digest" ${JSON.stringify(record.digest)} is not a digest (sha256:<64 hex>)`);
  }
  if (!Array.isArray(record.tags) || record.tags.some((t) => typeof t !== 'string')) throw fail('"tags" must be a list of strings');
  if (record.version !== undefined && typeof record.version !== 'string') throw fail('"version" must be a string');
  if (typeof record.dryRun !== 'boolean') throw fail('"dryRun" must be true or false');
  if (typeof record.pushedAt !== 'string') throw fail('"pushedAt" is missing');
  return record as unknown as PushRecord;
}

export function planDeployManifest(input: PlanInput): DeployPlan {
  const all = composeServices(input.workspaceRoot, input.composeFile);
  const projects = new Set(input.projects);
  const unknown = input.services.filter((s) => !all.includes(s));
  if (unknown.length) {
    throw inputError(
      `${input.composeFile} has no service ${unknown.map((s) => `"${s}"`).join(', ')}`,
      `Its services are: ${all.join(', ')}.`,
    );
  }
  const wanted = input.services.length ? all.filter((s) => input.services.includes(s)) : all;
  const plan: DeployPlan = { composeFile: input.composeFile, output: input.output, pinned: [], skipped: [], external: [] };
  for (const service of wanted) {
    if (!projects.has(service)) {
      plan.external.push(service);
      continue;
    }
    const record = readPushRecord(input.workspaceRoot, service);
    if (!record) {
      plan.skipped.push({ service, reason: 'no-push-record', record: recordPath(service) });
    } else if (record.dryRun) {
      // A dry run computes a digest but uploads nothing: pinning it would deploy an image that
      // is not in the registry.
      plan.skipped.push({ service, reason: 'dry-run-push', record: recordPath(service) });
    } else {
      plan.pinned.push({
        service,
        image: `${record.registry}/${record.repository}@${record.digest}`,
        digest: record.digest,
        version: record.version,
        tags: record.tags,
        pushedAt: record.pushedAt,
      });
    }
  }
  return plan;
}

/** The override file's content: a header saying where it came from, then `services.<s>.image`. */
export function renderOverride(plan: DeployPlan): string {
  const services: Record<string, { image: string }> = {};
  for (const pin of plan.pinned) services[pin.service] = { image: pin.image };
  const header = [
    `# Generated by the deploy-manifest executor from ${plan.composeFile} and dist/images/*/push.json.`,
    `# Use: docker compose -f ${plan.composeFile} -f ${plan.output} up -d`,
    ...plan.pinned.map((p) => `#   ${p.service}: ${p.version ?? 'unversioned'} (${p.tags.join(', ') || 'no tags'}), pushed ${p.pushedAt}`),
    ...plan.skipped.map((s) => `#   ${s.service}: not pinned (${describeSkip(s.reason)})`),
  ];
  return `${header.join('\n')}\n${stringifyYaml({ services }, { lineWidth: 0 })}`;
}

export function describeSkip(reason: SkipReason): string {
  switch (reason) {
    case 'no-push-record':
      return 'no push record';
    case 'dry-run-push':
      return 'its last push was a dry run';
    default: {
      const unhandled: never = reason;
      return unhandled;
    }
  }
}

export function writeOverride(workspaceRoot: string, plan: DeployPlan): string {
  const path = join(workspaceRoot, plan.output);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderOverride(plan));
  return path;
}
