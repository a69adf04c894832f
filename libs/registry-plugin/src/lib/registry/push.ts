import { createReadStream } from 'node:fs';
import { AurenError } from '../errors/errors';
import { validateTag } from './tag-grammar';
import type { BlobSource, RegistryClient } from './client';
import { mapLimit } from './concurrency';
import type { OciLayout } from './layout';
import { validateRepository } from './reference';

/**
 * Push as plan-then-act. `planPush` only reads (HEAD requests) and returns a value that says
 * what would happen; `executePush` does it in an order that never lets a tag point at an
 * incomplete image: blobs, then child manifests, then the image by its first tag, then the
 * other tags (one manifest PUT each), `latest` last.
 */

/** An image to send, wherever its bytes come from (a layout on disk, another registry). */
export interface ImageSource {
  digest: string;
  mediaType: string;
  /** Children before the indexes that list them; the image itself last. */
  manifests: Array<{ digest: string; mediaType: string; size: number; body: Buffer; platform?: string }>;
  blobs: Array<BlobSource & { mediaType: string; path?: string }>;
}

export interface PushBlobStep {
  digest: string;
  size: number;
  mediaType: string;
  /** File in the layout, when the source is one. */
  path?: string;
  action: 'upload' | 'skip';
  /** Repositories on the same registry to try a cross-repository mount from before uploading. */
  mountFrom: string[];
  source: BlobSource;
}

export interface PushManifestStep {
  digest: string;
  mediaType: string;
  size: number;
  body: Buffer;
  platform?: string;
  action: 'put' | 'skip';
}

export interface PushTagStep {
  tag: string;
  action: 'create' | 'move' | 'unchanged';
  /** Where the tag pointed before, for `move`. */
  previousDigest?: string;
}

export interface PushConflict {
  tag: string;
  existingDigest: string;
  reason: string;
}

export interface PushPlan {
  registry: string;
  repository: string;
  digest: string;
  mediaType: string;
  blobs: PushBlobStep[];
  /** Children before parents; the image last. */
  manifests: PushManifestStep[];
  /** In write order; `latest` last. */
  tags: PushTagStep[];
  /** Immutable tags that already point elsewhere; `executePush` refuses while there are any. */
  conflicts: PushConflict[];
  bytesToUpload: number;
}

export interface PlanPushOptions {
  repository: string;
  tags: string[];
  /** Tags that may be created but never moved (e.g. release versions). */
  immutableTags?: (tag: string) => boolean;
  /** Repositories on the same registry that may already hold our blobs (base images, siblings). */
  mountFrom?: string[];
  /** HEAD requests in flight. Default 8. */
  concurrency?: number;
}

export type PushProgress =
  | { type: 'blob'; digest: string; size: number; status: 'uploaded' | 'mounted' | 'skipped' }
  | { type: 'manifest'; digest: string; status: 'put' | 'skipped' }
  | { type: 'tag'; tag: string; status: PushTagResult['status'] };

export interface ExecutePushOptions {
  /** Return what would happen without sending anything. */
  dryRun?: boolean;
  /** Blob uploads in flight. Default 3. */
  concurrency?: number;
  onProgress?: (event: PushProgress) => void;
}

export interface PushTagResult {
  tag: string;
  status: 'created' | 'unchanged' | 'moved';
}

export interface PushResult {
  digest: string;
  /** Blobs (configs and layers) sent, mounted from another repository, or already present. */
  uploaded: number;
  skipped: number;
  mounted: number;
  bytesUploaded: number;
  tags: PushTagResult[];
  dryRun: boolean;
}

export function layoutImageSource(layout: OciLayout): ImageSource {
  return {
    digest: layout.digest,
    mediaType: layout.mediaType,
    manifests: layout.manifests.map(({ digest, mediaType, size, body, platform }) => ({ digest, mediaType, size, body, platform })),
    blobs: layout.blobs.map((blob) => ({
      ...blob,
      open: () => createReadStream(blob.path),
      openRange: (start: number, end: number) => createReadStream(blob.path, { start, end }),
    })),
  };
}

/** Distinct tags, validated, in the given order with `latest` moved last. */
export function orderTags(tags: readonly string[]): string[] {
  const unique = [...new Set(tags.map((t) => validateTag(t)))];
  return [...unique.filter((t) => t !== 'latest'), ...unique.filter((t) => t === 'latest')];
}

/** Where each tag stands in `repository`, and which immutable tags would have to move. */
export async function planTags(
  client: RegistryClient,
  repository: string,
  digest: string,
  tags: readonly string[],
  immutableTags: (tag: string) => boolean,
  concurrency = 8,
): Promise<{ tags: PushTagStep[]; conflicts: PushConflict[] }> {
  const ordered = orderTags(tags);
  const conflicts: PushConflict[] = [];
  const steps = await mapLimit(ordered, concurrency, async (tag): Promise<PushTagStep> => {
    const current = await client.manifestHead(repository, tag);
    if (current === 'not-found') return { tag, action: 'create' };
    if (current.digest === digest) return { tag, action: 'unchanged' };
    if (immutableTags(tag)) {
      conflicts.push({
        tag,
        existingDigest: current.digest,
        reason: `${client.registry}/${repository}:${tag} is immutable and already points at ${current.digest}`,
      });
    }
    return { tag, action: 'move', previousDigest: current.digest };
  });
  return { tags: steps, conflicts };
}

export async function planImagePush(client: RegistryClient, image: ImageSource, options: PlanPushOptions): Promise<PushPlan> {
  const repository = validateRepository(options.repository);
  // Validate every tag before the first request, so a typo never leaves a half-done push.
  orderTags(options.tags);
  const concurrency = options.concurrency ?? 8;
  const mountFrom = (options.mountFrom ?? []).filter((r) => r !== repository).map((r) => validateRepository(r));

  const { tags, conflicts } = await planTags(client, repository, image.digest, options.tags, options.immutableTags ?? (() => false), concurrency);

  // A registry only accepts a manifest whose blobs and children it has (distribution checks on
  // PUT, and we never PUT a manifest before its content), so when the image is there by digest
  // everything under it is too: a re-push costs one HEAD plus one per tag.
  const imagePresent = tags.some((t) => t.action === 'unchanged') || (await client.manifestHead(repository, image.digest)) !== 'not-found';

  const blobs = await mapLimit(image.blobs, concurrency, async (blob): Promise<PushBlobStep> => {
    const present = imagePresent || (await client.blobHead(repository, blob.digest)) !== 'not-found';
    return {
      digest: blob.digest,
      size: blob.size,
      mediaType: blob.mediaType,
      path: blob.path,
      action: present ? 'skip' : 'upload',
      mountFrom: present ? [] : mountFrom,
      source: blob,
    };
  });

  const children = image.manifests.filter((m) => m.digest !== image.digest);
  const childPresence = await mapLimit(children, concurrency, async (m) =>
    imagePresent || (await client.manifestHead(repository, m.digest)) !== 'not-found',
  );
  const top = image.manifests.find((m) => m.digest === image.digest);
  if (!top) throw new AurenError('internal', `image ${image.digest} is not among its own manifests`);
  const manifests: PushManifestStep[] = [
    ...children.map((m, i) => ({ ...m, action: childPresence[i] ? ('skip' as const) : ('put' as const) })),
    { ...top, action: imagePresent ? 'skip' : 'put' },
  ];

  return {
    registry: client.registry,
    repository,
    digest: image.digest,
    mediaType: image.mediaType,
    blobs,
    manifests,
    tags,
    conflicts,
    bytesToUpload: blobs.filter((b) => b.action === 'upload').reduce((sum, b) => sum + b.size, 0),
  };
}

export function planPush(client: RegistryClient, layout: OciLayout, options: PlanPushOptions): Promise<PushPlan> {
  return planImagePush(client, layoutImageSource(layout), options);
}

const TAG_STATUS = { create: 'created', move: 'moved', unchanged: 'unchanged' } as const;

export async function executePush(client: RegistryClient, plan: PushPlan, options: ExecutePushOptions = {}): Promise<PushResult> {
  if (plan.conflicts.length) {
    throw new AurenError(
      'policy',
      `refusing to push ${plan.digest} to ${plan.registry}/${plan.repository}: ${plan.conflicts.map((c) => c.reason).join('; ')}`,
      'Release a new version instead of re-tagging, or drop the tag from the immutable set if moving it is intended.',
    );
  }
  const progress = options.onProgress ?? (() => undefined);
  const tagResults: PushTagResult[] = plan.tags.map((t) => ({ tag: t.tag, status: TAG_STATUS[t.action] }));
  const result: PushResult = {
    digest: plan.digest,
    uploaded: 0,
    skipped: 0,
    mounted: 0,
    bytesUploaded: 0,
    tags: tagResults,
    dryRun: Boolean(options.dryRun),
  };
  if (options.dryRun) {
    for (const blob of plan.blobs) {
      if (blob.action === 'skip') result.skipped++;
      else {
        result.uploaded++;
        result.bytesUploaded += blob.size;
      }
    }
    return result;
  }

  await mapLimit(plan.blobs, options.concurrency ?? 3, async (blob) => {
    if (blob.action === 'skip') {
      result.skipped++;
      progress({ type: 'blob', digest: blob.digest, size: blob.size, status: 'skipped' });
      return;
    }
    for (const from of blob.mountFrom) {
      if ((await client.blobMount(plan.repository, from, blob.digest)) === 'mounted') {
        result.mounted++;
        progress({ type: 'blob', digest: blob.digest, size: blob.size, status: 'mounted' });
        return;
      }
    }
    const outcome = await client.blobUpload(plan.repository, blob.source, { checkExists: false });
    if (outcome === 'uploaded') {
      result.uploaded++;
      result.bytesUploaded += blob.size;
    } else {
      result.skipped++;
    }
    progress({ type: 'blob', digest: blob.digest, size: blob.size, status: outcome === 'uploaded' ? 'uploaded' : 'skipped' });
  });

  const image = plan.manifests[plan.manifests.length - 1];
  for (const manifest of plan.manifests.slice(0, -1)) {
    if (manifest.action === 'put') await client.manifestPut(plan.repository, manifest.digest, manifest.body, manifest.mediaType);
    progress({ type: 'manifest', digest: manifest.digest, status: manifest.action === 'put' ? 'put' : 'skipped' });
  }

  const writes = plan.tags.filter((t) => t.action !== 'unchanged');
  if (image.action === 'put' && writes.length === 0) {
    await client.manifestPut(plan.repository, image.digest, image.body, image.mediaType);
  }
  progress({ type: 'manifest', digest: image.digest, status: image.action === 'put' ? 'put' : 'skipped' });
  for (const step of plan.tags) {
    if (step.action !== 'unchanged') {
      const { digest } = await client.manifestPut(plan.repository, step.tag, image.body, image.mediaType);
      if (digest !== plan.digest) throw new AurenError('internal', `tag ${step.tag} was written with digest ${digest}, expected ${plan.digest}`);
    }
    progress({ type: 'tag', tag: step.tag, status: TAG_STATUS[step.action] });
  }
  return result;
}
