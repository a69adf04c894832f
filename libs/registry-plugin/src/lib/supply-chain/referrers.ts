import { Readable } from 'node:stream';
import { AurenError } from '../errors/errors';
import type { RegistryClient } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { fallbackTag, sha256Digest } from '../registry/digest';
import { readConfig, tryParseManifest } from '../registry/image-graph';
import { OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, type Descriptor, type ImageIndex, type ImageManifest } from '../registry/media-types';
import { isLoopbackRegistry } from '../registry/reference';

/**
 * Artifacts attached to an image by digest (OCI image spec 1.1 "Guidelines for Artifact Usage",
 * distribution spec 1.1 "Listing Referrers").
 *
 * An artifact is an image manifest with `artifactType`, the empty config and `subject` = the
 * image's descriptor. Registries with the referrers API index it themselves; distribution 2.8
 * and 3.x have none (`GET /v2/<name>/referrers/<digest>` answers 404), so the client keeps the
 * spec's "referrers tag schema" fallback: an image index tagged `sha256-<hex of the subject>`
 * whose `manifests` are the artifacts' descriptors. `oras discover` and cosign read that index
 * when the API is missing. We always maintain it: the client interface cannot tell whether the
 * registry indexed the subject (it would say so in an `OCI-Subject` header), and on a registry
 * with the API the fallback index is ignored by readers and costs one small manifest.
 */

/** OCI image spec 1.1: the empty JSON config every artifact without a config of its own uses. */
export const EMPTY_CONFIG: Descriptor = {
  mediaType: OCI_EMPTY,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};
const EMPTY_JSON = Buffer.from('{}');

export interface ArtifactFile {
  mediaType: string;
  data: Buffer;
  /** e.g. `org.opencontainers.image.title` (oras names the pulled file after it). */
  annotations?: Record<string, string>;
}

export interface AttachInput {
  repository: string;
  /** The image the artifact is about (a manifest or an index). */
  subject: Descriptor;
  artifactType: string;
  files: ArtifactFile[];
  annotations?: Record<string, string>;
}

export type IndexUpdate = 'created' | 'updated' | 'unchanged';

export interface AttachResult {
  /** Digest of the artifact manifest. */
  digest: string;
  descriptor: Descriptor;
  fallbackTag: string;
  index: IndexUpdate;
}

export interface FallbackGuardOptions {
  /** Read-merge-write rounds before giving up. Default 6. */
  attempts?: number;
  /**
   * Pause before each re-read that checks no concurrent writer dropped our entries. Default: three
   * times the round trip our own write and read-back just took, at most 2 s and at least 150 ms
   * (50 ms for a loopback registry).
   */
  settleMs?: number;
}

const bufferSource = (data: Buffer) => ({ digest: sha256Digest(data), size: data.length, open: () => Readable.from([data]) });

/** Pushes the artifact manifest (blobs first) and records it in the subject's fallback index. */
export async function attachArtifact(client: RegistryClient, input: AttachInput, guard: FallbackGuardOptions = {}): Promise<AttachResult> {
  await client.blobUpload(input.repository, bufferSource(EMPTY_JSON));
  const layers: Descriptor[] = [];
  for (const file of input.files) {
    const source = bufferSource(file.data);
    await client.blobUpload(input.repository, source);
    layers.push({ mediaType: file.mediaType, digest: source.digest, size: source.size, ...(file.annotations ? { annotations: file.annotations } : {}) });
  }
  const subject: Descriptor = { mediaType: input.subject.mediaType, digest: input.subject.digest, size: input.subject.size };
  const manifest: ImageManifest & { artifactType: string } = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: input.artifactType,
    config: EMPTY_CONFIG,
    layers,
    subject,
    ...(input.annotations && Object.keys(input.annotations).length ? { annotations: input.annotations } : {}),
  };
  const body = Buffer.from(JSON.stringify(manifest));
  const { digest } = await client.manifestPut(input.repository, sha256Digest(body), body, OCI_MANIFEST);
  const descriptor: Descriptor = {
    mediaType: OCI_MANIFEST,
    digest,
    size: body.length,
    artifactType: input.artifactType,
    ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
  };
  const index = await updateFallbackIndex(client, input.repository, subject.digest, { add: [descriptor] }, guard);
  return { digest, descriptor, fallbackTag: fallbackTag(subject.digest), index };
}

/** The artifacts the fallback index lists for `subjectDigest` (`[]` when there is none). */
export async function listReferrers(client: RegistryClient, repository: string, subjectDigest: string, artifactType?: string): Promise<Descriptor[]> {
  const current = await readFallbackIndex(client, repository, subjectDigest);
  const all = current?.index.manifests ?? [];
  return artifactType ? all.filter((d) => d.artifactType === artifactType) : all;
}

/** cosign v3's bundle type: signatures and attestations alike, told apart by `dev.sigstore.bundle.predicateType`. */
export const SIGSTORE_BUNDLE = /^application\/vnd\.dev\.sigstore\.bundle(\.v[\d.]+)?\+json$/;
/** The predicate type cosign v3 gives the bundle of a plain signature (`cosign sign`). */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/** A cosign bundle attached to a digest, as far as deciding whether to verify it goes. */
export interface AttachedBundle {
  /** `dev.sigstore.bundle.predicateType` of the bundle's manifest. */
  predicateType: string;
  /**
   * `verificationMaterial.publicKey.hint` of a bundle signed with a key: cosign writes the
   * base64 SHA-256 of the public key (DER). Absent for keyless bundles, or when the bundle could
   * not be read; advisory either way (cosign verify checks the signature, not the hint).
   */
  keyHint?: string;
}

/** A sigstore bundle is a few kilobytes; more is not one, and is not held. */
const MAX_BUNDLE_BYTES = 256 * 1024;
/** Key hints are read for this many bundles at most; past it, every bundle counts as unhinted. */
const MAX_HINTED_BUNDLES = 16;
const BUNDLE_READS_IN_FLIGHT = 4;

/**
 * The cosign bundles attached to `subjectDigest`: the predicate type from each bundle's manifest
 * (cosign's fallback index entries carry the artifact type but not the annotations) and, for the
 * first bundles, the key hint from the bundle itself (with `keyHints`: a caller with no key to
 * compare it to spares the reads). Presence only; `cosign verify` and `verify-attestation` say
 * whether one verifies.
 */
export async function attachedBundles(
  client: RegistryClient,
  repository: string,
  subjectDigest: string,
  options: { keyHints?: boolean; referrers?: Descriptor[] } = {},
): Promise<AttachedBundle[]> {
  // `referrers`: the subject's listing, when the caller has just read it.
  const listed = (options.referrers ?? (await listReferrers(client, repository, subjectDigest))).filter((d) => d.artifactType && SIGSTORE_BUNDLE.test(d.artifactType));
  // Each bundle is a manifest and, for its hint, a blob: read side by side, not one round trip
  // after another (a remote registry answers in tens of milliseconds).
  const bundles = await mapLimit(listed, BUNDLE_READS_IN_FLIGHT, async (bundle, i): Promise<AttachedBundle | undefined> => {
    const got = await client.manifestGet(repository, bundle.digest);
    if (got === 'not-found') return undefined;
    const parsed = tryParseManifest(got.body, got.mediaType);
    const type = (parsed?.document as { annotations?: Record<string, unknown> } | undefined)?.annotations?.['dev.sigstore.bundle.predicateType'];
    if (typeof type !== 'string') return undefined;
    const layer = parsed?.layers.find((d) => SIGSTORE_BUNDLE.test(d.mediaType));
    const keyHint = options.keyHints && layer && i < MAX_HINTED_BUNDLES ? await bundleKeyHint(client, repository, layer) : undefined;
    return { predicateType: type, ...(keyHint ? { keyHint } : {}) };
  });
  return bundles.filter((b): b is AttachedBundle => b !== undefined);
}

async function bundleKeyHint(client: RegistryClient, repository: string, layer: Descriptor): Promise<string | undefined> {
  // A bundle that cannot be read leaves its hint unknown, so it is verified as before.
  const bundle = await readConfig(client, repository, layer.digest, { size: layer.size, maxBytes: MAX_BUNDLE_BYTES }).catch(() => undefined);
  const hint = (bundle?.verificationMaterial as { publicKey?: { hint?: unknown } } | undefined)?.publicKey?.hint;
  return typeof hint === 'string' && hint.length > 0 && hint.length <= 128 ? hint : undefined;
}

async function readFallbackIndex(client: RegistryClient, repository: string, subjectDigest: string): Promise<{ index: ImageIndex; digest: string } | undefined> {
  const got = await client.manifestGet(repository, fallbackTag(subjectDigest));
  if (got === 'not-found') return undefined;
  const parsed = tryParseManifest(got.body, got.mediaType);
  if (!parsed) throw new AurenError('registry', `${repository}:${fallbackTag(subjectDigest)} is not JSON`, 'Delete the tag; the next push rebuilds it.');
  const index = parsed.document as ImageIndex;
  if (!Array.isArray(index.manifests)) {
    throw new AurenError('registry', `${repository}:${fallbackTag(subjectDigest)} is not an image index (no "manifests")`, 'Delete the tag; the next push rebuilds it.');
  }
  return { index, digest: got.digest };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The pause before the last re-read, after our own write and read-back took `roundTripMs`.
 * Another writer's window (its read, then its write) lasts about one of its round trips to the
 * registry, so the pause follows the registry's pace, up to 2 s. Another writer of a shared
 * registry may sit farther from it than we do: never less than 150 ms there. Every writer of a
 * loopback registry runs on this machine, as close as we are: 50 ms.
 */
export function settlePause(registry: string, roundTripMs: number): number {
  return Math.min(2_000, Math.max(isLoopbackRegistry(registry) ? 50 : 150, 3 * roundTripMs));
}

/**
 * Read, merge, write, then read again, and start over if an entry we added is missing or one we
 * removed is back. Distribution has no conditional PUT (it ignores `If-Match`), so this re-read
 * guard is what keeps two writers (say, our SBOM attach and cosign, or two CI jobs pushing the
 * same digest) from dropping each other's entries: whoever loses the race sees it on a re-read
 * and merges again. Entries are never removed except the ones named in `remove`, so a merge can
 * only grow the union of what writers added.
 *
 * A writer that read before our PUT may write after it. So once our entries are there, we keep
 * reading after a pause until one pause passes with the index unchanged: while other writers are
 * still at work, a slow one among them may yet write what it read before ours (eight writers at
 * once on a loaded machine did drop an entry when one quiet-looking read was trusted). Alone, that
 * is one pause and one read, as before.
 */
export async function updateFallbackIndex(
  client: RegistryClient,
  repository: string,
  subjectDigest: string,
  change: { add?: Descriptor[]; remove?: string[] },
  guard: FallbackGuardOptions = {},
): Promise<IndexUpdate> {
  const attempts = guard.attempts ?? 6;
  let wrote = 0;
  const settle = () => guard.settleMs ?? settlePause(client.registry, Date.now() - wrote);
  const add = change.add ?? [];
  const remove = new Set(change.remove ?? []);
  const tag = fallbackTag(subjectDigest);
  const settled = (index: ImageIndex | undefined) => {
    const present = new Set((index?.manifests ?? []).map((d) => d.digest));
    return add.every((d) => present.has(d.digest)) && [...remove].every((d) => !present.has(d));
  };
  let result: IndexUpdate = 'unchanged';
  // `attempts` writes; the round after the last one only reads, to check that write.
  for (let attempt = 1; attempt <= attempts + 1; attempt++) {
    const current = await readFallbackIndex(client, repository, subjectDigest);
    if (settled(current?.index) && (current || add.length === 0)) {
      if (attempt === 1) return 'unchanged';
      if (await staysSettled(current?.digest)) return result;
      continue;
    }
    if (attempt > attempts) break;
    const kept = (current?.index.manifests ?? []).filter((d) => !remove.has(d.digest));
    const known = new Set(kept.map((d) => d.digest));
    const manifests = [...kept, ...add.filter((d) => !known.has(d.digest))];
    const index: ImageIndex = { schemaVersion: 2, mediaType: OCI_INDEX, manifests, ...(current?.index.annotations ? { annotations: current.index.annotations } : {}) };
    const body = Buffer.from(JSON.stringify(index));
    wrote = Date.now();
    await client.manifestPut(repository, tag, body, OCI_INDEX);
    result = current ? 'updated' : 'created';
  }
  throw new AurenError(
    'registry',
    `${repository}:${tag} kept changing under us; gave up after ${attempts} attempts to record ${add.map((d) => d.digest).join(', ') || 'the removal'}`,
    'Another writer is updating the same referrers index; run the push again when it is done.',
  );

  /** True once a pause passes with the index unchanged and ours; false when an entry is lost. */
  async function staysSettled(seen: string | undefined): Promise<boolean> {
    // Paced once, by our write and read-back, so a busy index does not stretch each pause.
    // Bounded: past this many pauses of other writers' activity, the last read (ours there) stands.
    const pause = settle();
    for (let round = 0; round < QUIET_PAUSES; round++) {
      await sleep(pause);
      const later = await readFallbackIndex(client, repository, subjectDigest);
      if (!settled(later?.index)) return false;
      if (later?.digest === seen) return true;
      seen = later?.digest;
    }
    return true;
  }
}

/** Pauses an update waits at most for the other writers of one index to go quiet. */
const QUIET_PAUSES = 8;
