import type { RegistryClient } from '../registry/client';
import { registryImageSource } from '../registry/copy';
import { isDigest } from '../registry/digest';
import { executePush, planImagePush, type PushPlan, type PushProgress, type PushResult } from '../registry/push';
import { formatBytes } from '../reports/format';
import { AurenError } from '../errors/errors';

/**
 * Copy as plan-then-act, for promote and mirror. `copyImage` (registry/copy.ts) plans and acts
 * in one call; here the plan is a value first, so the executors and CLI can print it (and stop
 * there for a dry run) before anything is written.
 *
 * How the bytes move depends on where the copy goes:
 * - `retag`: same registry, same repository: one manifest PUT per new tag, nothing else;
 * - `mount`: same registry, another repository: every missing blob is a cross-repository mount
 *   (distribution spec, "Mounting a blob from another repository"), no blob bytes move;
 * - `copy`: another registry: only the blobs the target lacks are streamed across.
 * Manifests are sent byte for byte, so the digest is the same on both sides.
 */
export type CopyMode = 'retag' | 'mount' | 'copy';

export interface CopyEndpoint {
  client: RegistryClient;
  repository: string;
}

export interface CopyPlan {
  mode: CopyMode;
  source: { registry: string; repository: string; reference: string; digest: string; mediaType: string; platforms: string[] };
  target: { registry: string; repository: string };
  push: PushPlan;
}

export interface PlanCopyOptions {
  from: CopyEndpoint & { reference: string };
  to: CopyEndpoint & { tags: string[] };
  immutableTags?: (tag: string) => boolean;
}

export function copyMode(from: CopyEndpoint, to: CopyEndpoint): CopyMode {
  // By name, not baseUrl: a loopback client learns its scheme on first contact.
  if (from.client.registry !== to.client.registry) return 'copy';
  return from.repository === to.repository ? 'retag' : 'mount';
}

export async function planCopy(options: PlanCopyOptions): Promise<CopyPlan> {
  const { from, to } = options;
  const mode = copyMode(from, to);
  const source = await registryImageSource(from.client, from.repository, from.reference);
  const push = await planImagePush(to.client, source, {
    repository: to.repository,
    tags: to.tags,
    immutableTags: options.immutableTags,
    mountFrom: mode === 'mount' ? [from.repository] : [],
  });
  return {
    mode,
    source: {
      registry: from.client.registry,
      repository: from.repository,
      reference: from.reference,
      digest: source.digest,
      mediaType: source.mediaType,
      platforms: source.platforms,
    },
    target: { registry: to.client.registry, repository: to.repository },
    push,
  };
}

export interface ExecuteCopyOptions {
  dryRun?: boolean;
  concurrency?: number;
  onProgress?: (event: PushProgress) => void;
}

/** Refuses (policy error) while an immutable tag would move; otherwise blobs, manifests, tags. */
export async function executeCopy(client: RegistryClient, plan: CopyPlan, options: ExecuteCopyOptions = {}): Promise<PushResult> {
  if (plan.push.conflicts.length) throw conflictError(plan);
  return executePush(client, plan.push, options);
}

export function conflictError(plan: CopyPlan): AurenError {
  return new AurenError(
    'policy',
    plan.push.conflicts
      .map((c) => `${plan.target.registry}/${plan.target.repository}:${c.tag} already names ${c.existingDigest}; the source is ${plan.source.digest}`)
      .join('\n') + '\nVersion tags are immutable; nothing was copied.',
    'Promote to a new version tag, or delete the old tag deliberately (auren-registry cleanup) if re-pointing it is really intended.',
  );
}

export function sourceName(plan: CopyPlan): string {
  const { registry, repository, reference } = plan.source;
  return `${registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
}

const MODE_TEXT: Record<CopyMode, string> = {
  retag: 'same repository: manifest PUTs only',
  mount: 'same registry: cross-repository mounts, no blob upload',
  copy: 'another registry: only missing blobs are copied',
};

/** The plan as the lines printed before acting. */
export function describeCopyPlan(plan: CopyPlan, verb = 'promote'): string {
  const { push } = plan;
  const moving = push.blobs.filter((b) => b.action === 'upload');
  const present = push.blobs.length - moving.length;
  const platforms = plan.source.platforms.length ? ` (${plan.source.platforms.join(', ')})` : '';
  const blobLine =
    plan.mode === 'copy'
      ? `  blobs: ${moving.length} to copy (${formatBytes(push.bytesToUpload)}), ${present} already there`
      : plan.mode === 'mount'
        ? `  blobs: ${moving.length} to mount (${formatBytes(push.bytesToUpload)} not re-uploaded), ${present} already there`
        : `  blobs: none to move (${present} in the repository)`;
  return [
    `${verb} ${sourceName(plan)}${platforms}`,
    `  digest: ${plan.source.digest}`,
    `  to ${plan.target.registry}/${plan.target.repository} (${MODE_TEXT[plan.mode]})`,
    blobLine,
    `  manifests: ${push.manifests.filter((m) => m.action === 'put').length} to put, ${push.manifests.filter((m) => m.action === 'skip').length} already there`,
    ...push.tags.map((t) => `  tag ${t.tag}: ${t.action}${t.previousDigest ? ` (was ${t.previousDigest})` : ''}`),
    ...push.conflicts.map((c) => `  tag ${c.tag}: CONFLICT (${c.reason})`),
  ].join('\n');
}

/** JSON-safe summary of a plan (no manifest bodies, no stream factories). */
export function copyPlanJson(plan: CopyPlan): Record<string, unknown> {
  return {
    mode: plan.mode,
    source: plan.source,
    target: plan.target,
    blobs: plan.push.blobs.map((b) => ({ digest: b.digest, size: b.size, action: plan.mode === 'mount' && b.action === 'upload' ? 'mount' : b.action })),
    manifests: plan.push.manifests.map((m) => ({ digest: m.digest, mediaType: m.mediaType, platform: m.platform, action: m.action })),
    tags: plan.push.tags,
    conflicts: plan.push.conflicts,
    bytesToCopy: plan.mode === 'copy' ? plan.push.bytesToUpload : 0,
  };
}
