import { AurenError } from '../errors/errors';
import type { RegistryClient } from '../registry/client';
import { registryImageSource } from '../registry/copy';
import { fallbackTag, isDigest } from '../registry/digest';
import { tryParseManifest } from '../registry/image-graph';
import { OCI_EMPTY, type Descriptor } from '../registry/media-types';
import { executePush, planImagePush, type PushPlan } from '../registry/push';
import { SLSA_PROVENANCE_V1 } from '../supply-chain/provenance';
import { COSIGN_SIGN_PREDICATE, listReferrers, SIGSTORE_BUNDLE, updateFallbackIndex, type FallbackGuardOptions } from '../supply-chain/referrers';
import { CYCLONEDX_MEDIA_TYPE } from '../supply-chain/sbom';
import { executeLegacyTag, planLegacyTags, type LegacyTagStep } from './legacy-tags';

/**
 * What is attached to an image travels with it. The SBOM, the cosign signature and the SLSA
 * provenance are artifacts whose `subject` is the image's digest, listed by the referrers
 * fallback index `sha256-<hex>` of the repository they live in (supply-chain/referrers.ts). A
 * copy to another repository or registry that left them behind would hand over an image that
 * looks unsigned and undocumented, so every artifact attached to the copied digest (for an
 * index, also to each child manifest, and to the artifacts themselves: a signature of the SBOM)
 * is copied byte for byte and listed in the target's fallback index.
 *
 * cosign's legacy tags (`sha256-<hex>.sig|.att|.sbom`) of the image and its children go too,
 * merged with the target's own (legacy-tags.ts).
 *
 * Signatures stay valid: cosign signs the digest, and the digest is unchanged. Within one
 * repository nothing is copied: everything is keyed by digest and already there.
 *
 * The source's fallback index is only a hint: an artifact is copied for a subject only when its
 * own `subject` names that digest (a damaged or hostile index cannot graft a foreign signature
 * onto our image), and entries the registry no longer has are skipped with a note. Artifact
 * bytes go through the same bounded, digest-checked copy as the image.
 */

/** More than this many artifacts attached to one image is a damaged or hostile registry, not a supply chain. */
export const MAX_ATTACHED_ARTIFACTS = 1000;

export type AttachedKind = 'sbom' | 'signature' | 'provenance' | 'attestation' | 'other';

export interface AttachedArtifact {
  /** The digest it is attached to: the image, a child, or another artifact. */
  subject: string;
  digest: string;
  kind: AttachedKind;
  /** The entry written to the target's fallback index. */
  descriptor: Descriptor;
  /** `present`: the target has the artifact manifest already. */
  action: 'copy' | 'present';
  push: PushPlan;
}

export interface AttachedIndexStep {
  subject: string;
  add: Descriptor[];
  /** `update`: the target's index lacks some entries (or does not exist). */
  action: 'update' | 'unchanged';
}

export interface AttachedSkip {
  subject: string;
  digest: string;
  reason: string;
}

export interface AttachedPlan {
  artifacts: AttachedArtifact[];
  indexes: AttachedIndexStep[];
  skipped: AttachedSkip[];
  /** cosign's legacy `sha256-<hex>.sig|.att|.sbom` tags of the image and its children. */
  legacy: LegacyTagStep[];
}

export const NOTHING_ATTACHED: AttachedPlan = { artifacts: [], indexes: [], skipped: [], legacy: [] };

export interface PlanAttachedOptions {
  from: { client: RegistryClient; repository: string };
  to: { client: RegistryClient; repository: string };
  /** The copied image's digest and its children's. */
  subjects: readonly string[];
  /** Same registry: blobs are mounted from the source repository. */
  mount: boolean;
  limit?: number;
}

const SBOM_TYPES = [CYCLONEDX_MEDIA_TYPE, 'application/spdx+json', 'application/vnd.syft+json'];

/** What an artifact is, from its manifest (cosign v3 tells signatures and attestations apart by an annotation). */
export function attachedKind(artifactType: string | undefined, annotations: Record<string, string> | undefined): AttachedKind {
  if (!artifactType) return 'other';
  if (SBOM_TYPES.includes(artifactType)) return 'sbom';
  if (SIGSTORE_BUNDLE.test(artifactType)) {
    const predicate = annotations?.['dev.sigstore.bundle.predicateType'];
    if (predicate === undefined || predicate === COSIGN_SIGN_PREDICATE) return 'signature';
    return predicate === SLSA_PROVENANCE_V1 ? 'provenance' : 'attestation';
  }
  return 'other';
}

/** The artifacts listed for `subject`; a HEAD first, so a source without any costs no manifest GET (Docker Hub counts GETs). */
async function listedFor(client: RegistryClient, repository: string, subject: string): Promise<Descriptor[]> {
  if ((await client.manifestHead(repository, fallbackTag(subject))) === 'not-found') return [];
  return listReferrers(client, repository, subject);
}

interface ArtifactManifest {
  subject?: Descriptor;
  artifactType?: string;
  config?: Descriptor;
  annotations?: Record<string, string>;
}


export async function planAttachedCopy(options: PlanAttachedOptions): Promise<AttachedPlan> {
  const { from, to } = options;
  const limit = options.limit ?? MAX_ATTACHED_ARTIFACTS;
  const artifacts = new Map<string, AttachedArtifact>();
  const adds = new Map<string, Descriptor[]>();
  const skipped: AttachedSkip[] = [];
  const queue = [...new Set(options.subjects)];
  const visited = new Set<string>();
  // Every listed entry counts, found or not, before any is fetched: an index of a million
  // made-up digests must not become a million GETs.
  let examined = 0;
  const where = `${from.client.registry}/${from.repository}`;

  while (queue.length) {
    const subject = queue.shift() as string;
    if (visited.has(subject)) continue;
    visited.add(subject);
    const list = await listedFor(from.client, from.repository, subject);
    examined += list.length;
    if (examined > limit) {
      throw new AurenError(
        'registry',
        `${where} lists more than ${limit} artifacts attached to ${options.subjects[0]} (and what is attached to them); nothing was copied`,
        `Look at the referrers indexes (\`oras discover ${where}@${options.subjects[0]}\`) and delete the stray ones (auren-registry cleanup removes artifacts of deleted images), then copy again.`,
      );
    }
    for (const listed of list) {
      const skip = (reason: string) => skipped.push({ subject, digest: String(listed.digest), reason });
      if (typeof listed.digest !== 'string' || !isDigest(listed.digest)) {
        skip('not a digest');
        continue;
      }
      const known = artifacts.get(listed.digest);
      if (known) {
        // The same artifact listed twice: one copy, one entry under the subject it names.
        if (known.subject !== subject) skip(`attached to ${known.subject}`);
        continue;
      }
      const got = await from.client.manifestGet(from.repository, listed.digest);
      if (got === 'not-found') {
        skip('listed, but not in the registry');
        continue;
      }
      const manifest = tryParseManifest(got.body, got.mediaType)?.document as ArtifactManifest | undefined;
      if (manifest?.subject?.digest !== subject) {
        skip(`attached to ${manifest?.subject?.digest ?? 'no image'}`);
        continue;
      }
      const source = await registryImageSource(from.client, from.repository, listed.digest);
      const push = await planImagePush(to.client, source, { repository: to.repository, tags: [], mountFrom: options.mount ? [from.repository] : [] });
      // As the referrers API would list it: the manifest's own type and annotations.
      const artifactType = manifest.artifactType ?? (manifest.config && manifest.config.mediaType !== OCI_EMPTY ? manifest.config.mediaType : listed.artifactType);
      const annotations = manifest.annotations ?? listed.annotations;
      const descriptor: Descriptor = {
        mediaType: got.mediaType,
        digest: got.digest,
        size: got.body.length,
        ...(artifactType ? { artifactType } : {}),
        ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
      };
      artifacts.set(listed.digest, {
        subject,
        digest: listed.digest,
        kind: attachedKind(artifactType, annotations),
        descriptor,
        action: push.manifests.some((m) => m.action === 'put') ? 'copy' : 'present',
        push,
      });
      adds.set(subject, [...(adds.get(subject) ?? []), descriptor]);
      // What is attached to the artifact (a signature of the SBOM) goes too.
      queue.push(listed.digest);
    }
  }

  const indexes: AttachedIndexStep[] = [];
  for (const [subject, add] of adds) {
    const present = new Set((await listedFor(to.client, to.repository, subject)).map((d) => d.digest));
    indexes.push({ subject, add, action: add.every((d) => present.has(d.digest)) ? 'unchanged' : 'update' });
  }
  const legacy = await planLegacyTags({ from, to, subjects: [...new Set(options.subjects)], mount: options.mount });
  return { artifacts: [...artifacts.values()], indexes, skipped, legacy };
}

export interface AttachedResult {
  copied: number;
  /** Blobs sent, mounted, or already there, over all artifacts. */
  uploaded: number;
  mounted: number;
  skipped: number;
  bytesUploaded: number;
  indexesUpdated: number;
  /** Legacy cosign tags written (copied or merged). */
  legacyTags: number;
}

/**
 * Artifacts first, then the fallback indexes, merged with what the target lists already (another
 * writer's entries are never dropped: referrers.ts re-reads after writing and merges again).
 */
export async function executeAttachedCopy(
  client: RegistryClient,
  repository: string,
  plan: AttachedPlan,
  options: { concurrency?: number; guard?: FallbackGuardOptions } = {},
): Promise<AttachedResult> {
  const result: AttachedResult = { copied: 0, uploaded: 0, mounted: 0, skipped: 0, bytesUploaded: 0, indexesUpdated: 0, legacyTags: 0 };
  for (const artifact of plan.artifacts) {
    const pushed = await executePush(client, artifact.push, { concurrency: options.concurrency });
    if (artifact.action === 'copy') result.copied++;
    result.uploaded += pushed.uploaded;
    result.mounted += pushed.mounted;
    result.skipped += pushed.skipped;
    result.bytesUploaded += pushed.bytesUploaded;
  }
  for (const index of plan.indexes) {
    // Asked even when the plan found it complete: a cleanup may have changed it since.
    if ((await updateFallbackIndex(client, repository, index.subject, { add: index.add }, options.guard)) !== 'unchanged') result.indexesUpdated++;
  }
  for (const step of plan.legacy) {
    if (await executeLegacyTag(client, repository, step, options.guard)) result.legacyTags++;
  }
  return result;
}

const KIND_NAMES: Record<AttachedKind, [string, string]> = {
  sbom: ['SBOM', 'SBOMs'],
  signature: ['signature', 'signatures'],
  provenance: ['provenance attestation', 'provenance attestations'],
  attestation: ['other attestation', 'other attestations'],
  other: ['other artifact', 'other artifacts'],
};

/** `2 SBOMs, 1 signature` */
export function describeKinds(artifacts: readonly Pick<AttachedArtifact, 'kind'>[]): string {
  const counts = new Map<AttachedKind, number>();
  for (const a of artifacts) counts.set(a.kind, (counts.get(a.kind) ?? 0) + 1);
  return (Object.keys(KIND_NAMES) as AttachedKind[])
    .filter((k) => counts.has(k))
    .map((k) => `${counts.get(k)} ${KIND_NAMES[k][counts.get(k) === 1 ? 0 : 1]}`)
    .join(', ');
}

const LEGACY_ACTION_TEXT: Record<LegacyTagStep['action'], string> = {
  copy: 'copy',
  merge: "merge (the target's own layers kept, ours added)",
  unchanged: 'unchanged',
  'keep-target': "the target's own is kept",
};

/** The plan's lines about attachments (none when nothing is attached). */
export function describeAttachedPlan(plan: AttachedPlan): string[] {
  const lines: string[] = [];
  if (plan.artifacts.length) {
    const copy = plan.artifacts.filter((a) => a.action === 'copy');
    const updates = plan.indexes.filter((i) => i.action === 'update').length;
    const kinds = describeKinds(copy.length ? copy : plan.artifacts);
    lines.push(
      `  attached: ${copy.length} artifact${copy.length === 1 ? '' : 's'} to copy${kinds ? ` (${kinds})` : ''}, ${plan.artifacts.length - copy.length} already there; ` +
        `referrers index of ${updates} subject${updates === 1 ? '' : 's'} to update`,
    );
  }
  for (const s of plan.skipped) lines.push(`  attached: not copied: ${s.digest} is listed for ${s.subject} but ${s.reason}`);
  for (const l of plan.legacy) lines.push(`  cosign tag ${l.tag}: ${LEGACY_ACTION_TEXT[l.action]}`);
  return lines;
}

export function attachedPlanJson(plan: AttachedPlan): Record<string, unknown> {
  return {
    artifacts: plan.artifacts.map((a) => ({ digest: a.digest, subject: a.subject, kind: a.kind, artifactType: a.descriptor.artifactType, action: a.action })),
    indexes: plan.indexes.map((i) => ({ subject: i.subject, entries: i.add.length, action: i.action })),
    skipped: plan.skipped,
    legacyTags: plan.legacy.map((l) => ({ tag: l.tag, subject: l.subject, action: l.action })),
  };
}
