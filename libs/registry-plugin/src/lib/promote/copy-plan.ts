import { executeGuardedPush, isImmutableTag } from '../pipeline/push';
import type { RegistryClient } from '../registry/client';
import { registryImageSource } from '../registry/copy';
import { isDigest } from '../registry/digest';
import { executePush, planImagePush, type PushPlan, type PushProgress, type PushResult } from '../registry/push';
import { formatBytes } from '../reports/format';
import { AurenError } from '../errors/errors';
import { attachedPlanJson, describeAttachedPlan, describeKinds, executeAttachedCopy, NOTHING_ATTACHED, planAttachedCopy, type AttachedPlan, type AttachedResult } from './attached';

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
 * Manifests are sent byte for byte, so the digest is the same on both sides. In another
 * repository (`mount`, `copy`) the artifacts attached to the image (SBOM, signature, provenance)
 * are copied with it (attached.ts); within one they are there already, keyed by digest.
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
  /** What is attached to the image and goes with it; nothing for a `retag`. */
  attached: AttachedPlan;
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
  const attached =
    mode === 'retag'
      ? NOTHING_ATTACHED
      : await planAttachedCopy({
          from,
          to,
          // The image first: an index's children are listed after it.
          subjects: [source.digest, ...source.manifests.map((m) => m.digest).filter((d) => d !== source.digest)],
          mount: mode === 'mount',
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
    attached,
  };
}

export interface ExecuteCopyOptions {
  concurrency?: number;
  onProgress?: (event: PushProgress) => void;
  /** Tags written with the race guard of docker-push (`executeGuardedPush`). Default: version tags. */
  immutableTags?: (tag: string) => boolean;
  /** What the executors and CLI print the conflict with. */
  verb?: CopyVerb;
}

export interface CopyPlanResult extends PushResult {
  attached: AttachedResult;
}

/**
 * Acts on a copy plan, in an order that never lets a tag in the target name an image whose
 * content or attachments are not there yet:
 *   1. blobs and manifests, by digest and untagged;
 *   2. the attached artifacts and the target's referrers fallback indexes (a consumer that
 *      resolves the tag finds the signature, SBOM and provenance);
 *   3. the tags, version tags with the race guard of docker-push (`executeGuardedPush`): looked
 *      up again just before the write and read back after it, so two copies racing for one
 *      version tag never both report it written; `latest` last.
 * Refuses (policy error) while an immutable tag would move.
 */
export async function executeCopy(client: RegistryClient, plan: CopyPlan, options: ExecuteCopyOptions = {}): Promise<CopyPlanResult> {
  if (plan.push.conflicts.length) throw conflictError(plan, options.verb);
  const push = { concurrency: options.concurrency, onProgress: options.onProgress };
  const content = await executePush(client, { ...plan.push, tags: [] }, push);
  const attached = await executeAttachedCopy(client, plan.target.repository, plan.attached, { concurrency: options.concurrency });
  const sent: PushPlan = {
    ...plan.push,
    blobs: plan.push.blobs.map((b) => ({ ...b, action: 'skip' as const })),
    manifests: plan.push.manifests.map((m) => ({ ...m, action: 'skip' as const })),
  };
  // Step 3 sends no content again; only its tag events are news.
  const onTag = (event: PushProgress) => (event.type === 'tag' ? options.onProgress?.(event) : undefined);
  const tagged = await executeGuardedPush(client, sent, options.immutableTags ?? isImmutableTag, { onProgress: onTag });
  return { ...content, tags: tagged.tags, attached };
}

export type CopyVerb = 'promote' | 'mirror';

const CONFLICT_HINT: Record<CopyVerb, string> = {
  promote: 'Promote to a new version tag, or delete the old tag deliberately (auren-registry cleanup) if re-pointing it is really intended.',
  mirror:
    'Upstream re-pointed a version tag, or two sources are mirrored under one name. Check which image the tag should name; pin the source by digest, or delete the mirrored tag deliberately if following upstream is really intended.',
};

export function conflictError(plan: CopyPlan, verb: CopyVerb = 'promote'): AurenError {
  return new AurenError(
    'policy',
    plan.push.conflicts
      .map((c) => `${plan.target.registry}/${plan.target.repository}:${c.tag} already names ${c.existingDigest}; the source is ${plan.source.digest}`)
      .join('\n') + '\nVersion tags are immutable; nothing was copied.',
    CONFLICT_HINT[verb],
  );
}

/** The image, its tags and its attachments are all in the target already. */
export function isNothingToDo(plan: CopyPlan): boolean {
  return (
    plan.push.manifests.every((m) => m.action === 'skip') &&
    plan.push.tags.every((t) => t.action === 'unchanged') &&
    plan.attached.artifacts.every((a) => a.action === 'present') &&
    plan.attached.indexes.every((i) => i.action === 'unchanged') &&
    plan.attached.legacy.every((l) => l.action === 'unchanged' || l.action === 'keep-target')
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
    ...describeAttachedPlan(plan.attached),
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
    attached: attachedPlanJson(plan.attached),
    bytesToCopy: plan.mode === 'copy' ? plan.push.bytesToUpload : 0,
  };
}

/** `; 4 attached artifacts copied (2 SBOMs, 2 signatures), 0 already there; 1 legacy cosign tag written`, or nothing when nothing is attached. */
export function attachedSummary(plan: CopyPlan, result: AttachedResult): string {
  let text = '';
  if (plan.attached.artifacts.length) {
    const copied = plan.attached.artifacts.filter((a) => a.action === 'copy');
    const kinds = describeKinds(copied);
    text += `; ${result.copied} attached artifact${result.copied === 1 ? '' : 's'} copied${kinds ? ` (${kinds})` : ''}, ${plan.attached.artifacts.length - copied.length} already there`;
  }
  if (plan.attached.legacy.length) text += `; ${result.legacyTags} legacy cosign tag${result.legacyTags === 1 ? '' : 's'} written, ${plan.attached.legacy.length - result.legacyTags} unchanged`;
  return text;
}
