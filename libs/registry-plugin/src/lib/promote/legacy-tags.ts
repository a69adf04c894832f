import { Readable } from 'node:stream';
import { AurenError } from '../errors/errors';
import type { RegistryClient } from '../registry/client';
import { registryImageSource } from '../registry/copy';
import { fallbackTag, sha256Digest } from '../registry/digest';
import { tryParseManifest } from '../registry/image-graph';
import type { Descriptor } from '../registry/media-types';
import { executePush, planImagePush, type PushPlan } from '../registry/push';

/**
 * cosign's legacy format, kept next to the referrers: the tags `sha256-<hex>.sig`, `.att` and
 * `.sbom` beside the image. cosign v3 still writes it on request (`--new-bundle-format=false`),
 * and some admission controllers read only it (policy-controller verifies a key signature
 * from the `.sig` tag), so a promoted image without it would be refused where its source is
 * admitted.
 *
 * Each tag names one image manifest whose layers are the signatures (or DSSE envelopes); cosign
 * adds a signature by appending a layer and re-tagging, so the tag moves. Copying it to a target
 * that has its own would drop the target's signatures, so the two are merged the way cosign
 * appends: the target's layers, then each of ours it lacks (a layer is its descriptor with the
 * annotations: two signatures of one payload share the blob digest), with a config that lists
 * them as cosign's does. `.sbom` is one document, not a list: the target's own is kept.
 * Distribution has no conditional PUT, so the tag is read back after the write and merged again
 * if another writer's PUT replaced ours.
 */

export const LEGACY_SUFFIXES = ['sig', 'att', 'sbom'] as const;
export type LegacySuffix = (typeof LEGACY_SUFFIXES)[number];

export interface LegacyTagStep {
  subject: string;
  tag: string;
  suffix: LegacySuffix;
  /** `merge`: the target has the tag with other layers; `keep-target`: an `.sbom` of its own. */
  action: 'copy' | 'merge' | 'unchanged' | 'keep-target';
  source: { digest: string; mediaType: string; body: Buffer; layers: Descriptor[] };
  /** The source manifest's blobs (its config and layers) into the target. */
  push: PushPlan;
}

interface SignatureManifest {
  config: Descriptor;
  layers: Descriptor[];
}

const layerKey = (d: Descriptor) => JSON.stringify([d.digest, d.mediaType, d.size, d.annotations ?? {}]);

function signatureManifest(body: Buffer, mediaType: string): SignatureManifest | undefined {
  const parsed = tryParseManifest(body, mediaType);
  const document = parsed?.document as Partial<SignatureManifest> | undefined;
  if (!parsed || parsed.kind !== 'manifest' || !document?.config || !Array.isArray(document.layers)) return undefined;
  return document as SignatureManifest;
}

const missingFrom = (target: SignatureManifest, layers: readonly Descriptor[]) => {
  const present = new Set(target.layers.map(layerKey));
  return layers.filter((l) => !present.has(layerKey(l)));
};

export interface PlanLegacyOptions {
  from: { client: RegistryClient; repository: string };
  to: { client: RegistryClient; repository: string };
  subjects: readonly string[];
  mount: boolean;
}

export async function planLegacyTags(options: PlanLegacyOptions): Promise<LegacyTagStep[]> {
  const { from, to } = options;
  const steps: LegacyTagStep[] = [];
  for (const subject of options.subjects) {
    for (const suffix of LEGACY_SUFFIXES) {
      const tag = `${fallbackTag(subject)}.${suffix}`;
      // A HEAD first: most images have none of these, and a GET is what Docker Hub counts.
      if ((await from.client.manifestHead(from.repository, tag)) === 'not-found') continue;
      const got = await from.client.manifestGet(from.repository, tag);
      if (got === 'not-found') continue;
      const manifest = signatureManifest(got.body, got.mediaType);
      if (!manifest) {
        throw new AurenError(
          'registry',
          `${from.client.registry}/${from.repository}:${tag} is not a cosign ${suffix} manifest (an image manifest with a config and layers)`,
          'Delete the tag in the source (cosign writes it again when it signs), then copy again.',
        );
      }
      const image = await registryImageSource(from.client, from.repository, got.digest);
      const planned = await planImagePush(to.client, image, { repository: to.repository, tags: [], mountFrom: options.mount ? [from.repository] : [] });
      // Only the blobs: the manifest goes under the tag (as it is, or merged), never untagged.
      const push: PushPlan = { ...planned, manifests: planned.manifests.map((m) => ({ ...m, action: 'skip' as const })) };
      const current = await to.client.manifestGet(to.repository, tag);
      let action: LegacyTagStep['action'];
      if (current === 'not-found') action = 'copy';
      else if (current.digest === got.digest) action = 'unchanged';
      else if (suffix === 'sbom') action = 'keep-target';
      else {
        const theirs = signatureManifest(current.body, current.mediaType);
        action = theirs && missingFrom(theirs, manifest.layers).length === 0 ? 'unchanged' : 'merge';
      }
      steps.push({ subject, tag, suffix, action, source: { digest: got.digest, mediaType: got.mediaType, body: got.body, layers: manifest.layers }, push });
    }
  }
  return steps;
}

/** The config cosign (go-containerregistry's `mutate.Append`) writes for a signature image: one diff_id and one history entry per layer. */
export function signatureConfig(layers: readonly Descriptor[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
}

const bufferSource = (data: Buffer) => ({ digest: sha256Digest(data), size: data.length, open: () => Readable.from([data]) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface LegacyGuardOptions {
  attempts?: number;
  settleMs?: number;
}

/** Writes the tag (copied or merged); `true` when the target changed. */
export async function executeLegacyTag(client: RegistryClient, repository: string, step: LegacyTagStep, guard: LegacyGuardOptions = {}): Promise<boolean> {
  if (step.action === 'unchanged' || step.action === 'keep-target') return false;
  await executePush(client, step.push);
  const attempts = guard.attempts ?? 6;
  const settleMs = guard.settleMs ?? 150;
  const carried = async () => {
    const got = await client.manifestGet(repository, step.tag);
    const manifest = got === 'not-found' ? undefined : signatureManifest(got.body, got.mediaType);
    return manifest !== undefined && missingFrom(manifest, step.source.layers).length === 0;
  };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const current = await client.manifestGet(repository, step.tag);
    const theirs = current === 'not-found' ? undefined : signatureManifest(current.body, current.mediaType);
    if (current === 'not-found' || !theirs) {
      // Absent (or not a signature image, which cosign would not read either): ours as it is.
      await client.manifestPut(repository, step.tag, step.source.body, step.source.mediaType);
    } else {
      const missing = missingFrom(theirs, step.source.layers);
      if (missing.length) {
        const layers = [...theirs.layers, ...missing];
        const config = signatureConfig(layers);
        await client.blobUpload(repository, bufferSource(config));
        const merged = { ...(JSON.parse(current.body.toString('utf8')) as Record<string, unknown>), config: { ...theirs.config, digest: sha256Digest(config), size: config.length }, layers };
        await client.manifestPut(repository, step.tag, Buffer.from(JSON.stringify(merged)), current.mediaType);
      }
    }
    // Read back now and after a pause: a writer that read before our PUT writes after it.
    if ((await carried()) && (await sleep(settleMs), await carried())) return true;
  }
  throw new AurenError(
    'registry',
    `${client.registry}/${repository}:${step.tag} kept changing under us; gave up after ${attempts} attempts to add our ${step.suffix} layers`,
    'Another writer (cosign signing the same digest) is updating the tag; copy again when it is done.',
  );
}
