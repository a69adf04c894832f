import type { Readable } from 'node:stream';
import { AurenError } from '../errors/errors';
import { mapLimit } from './concurrency';
import { isDigest } from './digest';
import { formatPlatform, isIndexMediaType, MANIFEST_MEDIA_TYPES, type Descriptor } from './media-types';

/**
 * The one reader of an image's graph (index → manifests → config + layers), in the spirit of
 * go-containerregistry's `remote/index.go` and `image.go`. Copy, retention (snapshot, apply, gc),
 * monitor and history all walk manifests through here, so "is this an index?", the size cap of
 * a config blob and tag → digest lookup are each decided once.
 */

/** A manifest or index as JSON; every field optional because registries hold anything. */
export interface ManifestDocument {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ParsedManifest {
  /** `index` lists manifests; `manifest` has a config and layers. */
  kind: 'index' | 'manifest';
  /** The media type given by the caller (Content-Type, descriptor), else the body's own. */
  mediaType: string | undefined;
  document: ManifestDocument;
  /** Child manifests of an index; `[]` for a manifest. */
  children: Descriptor[];
  config: Descriptor | undefined;
  layers: Descriptor[];
  annotations: Record<string, string>;
}

/**
 * The bytes are not a schemaVersion 2 manifest (or config); callers wrap it with where the bytes
 * came from. An `AurenError` itself, so a parser fed anything never fails with an untyped error.
 */
export class ManifestSyntaxError extends AurenError {
  constructor(message: string) {
    super('registry', message, 'The image content is not a valid OCI or Docker manifest; push (or build) the image again.');
    this.name = 'ManifestSyntaxError';
  }
}

/** Image configs are a few KiB; more than this is not worth reading for a date or a platform. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/**
 * OCI image spec: an index is told by its media type; a body without a known one (older Docker
 * clients, some artifacts) is an index when it lists manifests and has no config.
 */
export function isIndex(mediaType: string | undefined, document: ManifestDocument): boolean {
  if (mediaType !== undefined && isIndexMediaType(mediaType)) return true;
  if (mediaType !== undefined && MANIFEST_MEDIA_TYPES.includes(mediaType)) return false;
  return Array.isArray(document.manifests) && !document.config;
}

/** The one `JSON.parse` of image bytes here; `invalid` words the error when they are not JSON. */
function parseJson(body: Buffer, invalid: () => string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ManifestSyntaxError(invalid());
  }
}

/** A parser that gives `undefined` instead of a `ManifestSyntaxError` (tolerant readers). */
function tolerant<A extends unknown[], R>(parse: (...args: A) => R): (...args: A) => R | undefined {
  return (...args) => {
    try {
      return parse(...args);
    } catch (error) {
      if (error instanceof ManifestSyntaxError) return undefined;
      throw error;
    }
  };
}

const isObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Array.isArray(value);

/**
 * A descriptor as the image spec defines it, checked before anything uses it: its digest names
 * a file or a URL next (strict grammar, no path-like values), its size bounds how much of the
 * blob is read.
 */
export function checkDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw new ManifestSyntaxError(`${where} is not a descriptor`);
  if (typeof value.mediaType !== 'string' || !value.mediaType) throw new ManifestSyntaxError(`${where} has no mediaType`);
  if (!isDigest(value.digest)) throw new ManifestSyntaxError(`${where} has an invalid digest ${typeof value.digest === 'string' ? JSON.stringify(value.digest.slice(0, 160)) : `(a ${value.digest === null ? 'null' : typeof value.digest})`}`);
  if (typeof value.size !== 'number' || !Number.isSafeInteger(value.size) || value.size < 0) throw new ManifestSyntaxError(`${where} has an invalid size`);
  if (value.platform !== undefined && !(isObject(value.platform) && typeof value.platform.os === 'string' && typeof value.platform.architecture === 'string')) {
    throw new ManifestSyntaxError(`${where} has an invalid platform`);
  }
  if (value.annotations !== undefined && !isObject(value.annotations)) throw new ManifestSyntaxError(`${where} has invalid annotations`);
  return value as unknown as Descriptor;
}

function checkDescriptors(value: unknown, where: string): Descriptor[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new ManifestSyntaxError(`"${where}" is not a list`);
  return value.map((item, i) => checkDescriptor(item, `${where}[${i}]`));
}

export function parseManifest(body: Buffer, mediaType?: string): ParsedManifest {
  const document = parseJson(body, () => `expected a JSON manifest, got "${body.toString('utf8', 0, 80).replace(/\s+/g, ' ')}"`) as ManifestDocument;
  if (!document || typeof document !== 'object' || Array.isArray(document) || document.schemaVersion !== 2) {
    throw new ManifestSyntaxError('the JSON is not a schemaVersion 2 manifest or index');
  }
  if (document.mediaType !== undefined && typeof document.mediaType !== 'string') throw new ManifestSyntaxError('"mediaType" is not a string');
  if (document.annotations !== undefined && !isObject(document.annotations)) throw new ManifestSyntaxError('"annotations" is not an object');
  if (document.config !== undefined) checkDescriptor(document.config, 'config');
  checkDescriptors(document.layers, 'layers');
  checkDescriptors(document.manifests, 'manifests');
  if (document.subject !== undefined) checkDescriptor(document.subject, 'subject');
  const type = mediaType || (typeof document.mediaType === 'string' ? document.mediaType : undefined);
  const index = isIndex(type, document);
  return {
    kind: index ? 'index' : 'manifest',
    mediaType: type,
    document,
    children: index && Array.isArray(document.manifests) ? document.manifests : [],
    config: index ? undefined : document.config,
    layers: !index && Array.isArray(document.layers) ? document.layers : [],
    annotations: document.annotations ?? {},
  };
}

/** An OCI layout's `index.json` (or an index blob): `parseManifest` that insists on an index. */
export function parseIndex(body: Buffer): ParsedManifest {
  const parsed = parseManifest(body);
  if (parsed.kind !== 'index' || !Array.isArray(parsed.document.manifests)) {
    throw new ManifestSyntaxError('the JSON is not a schemaVersion 2 index with a "manifests" list');
  }
  return parsed;
}

/** The fields of an image config this plugin reads; the rest is kept as it was (rewriters write it back). */
export interface ConfigDocument {
  os?: string;
  architecture?: string;
  variant?: string;
  created?: string;
  config?: { Labels?: Record<string, string>; User?: string; [key: string]: unknown };
  rootfs?: { diff_ids?: string[] };
  [key: string]: unknown;
}

/**
 * An image config blob as an object. `maxBytes` caps what a caller is willing to hold (registry
 * blobs); configs a local build wrote need no cap. Throws `ManifestSyntaxError` otherwise.
 */
export function parseConfig(body: Buffer, maxBytes = Number.POSITIVE_INFINITY): ConfigDocument {
  if (body.length > maxBytes) throw new ManifestSyntaxError(`the config is ${body.length} bytes, over the ${maxBytes}-byte cap`);
  const parsed = parseJson(body, () => 'the config is not valid JSON');
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ManifestSyntaxError('the config is not a JSON object');
  return parsed as ConfigDocument;
}

/** `parseConfig`, or `undefined` (tolerant readers that only want optional facts). */
export const tryParseConfig = tolerant(parseConfig);

/** The `imageLayoutVersion` of an OCI layout's `oci-layout` marker (`undefined` when it names none). */
export function layoutVersion(body: Buffer): unknown {
  const marker = parseJson(body, () => 'the oci-layout marker is not valid JSON');
  return marker && typeof marker === 'object' ? (marker as { imageLayoutVersion?: unknown }).imageLayoutVersion : undefined;
}

/** `parseManifest`, or `undefined` for bytes that are not a manifest (tolerant readers). */
export const tryParseManifest = tolerant(parseManifest);

/** What the walk needs of a registry (a `RegistryClient` has it); storage or caches can stand in. */
export interface RawManifest {
  digest: string;
  mediaType: string;
  body: Buffer;
}
export type ManifestFetch = (ref: string) => Promise<RawManifest | 'not-found'>;

interface ManifestGetter {
  manifestGet(repo: string, ref: string): Promise<RawManifest | 'not-found'>;
}
interface BlobGetter {
  blobGet(repo: string, digest: string, options?: { size?: number }): Promise<Readable>;
}
interface ManifestHeader {
  tagList(repo: string): Promise<string[]>;
  manifestHead(repo: string, ref: string): Promise<{ digest: string } | 'not-found'>;
}

export const registryManifests = (client: ManifestGetter, repository: string): ManifestFetch => (ref) => client.manifestGet(repository, ref);

export interface GraphNode extends RawManifest {
  manifest: ParsedManifest;
  /** `os/arch[/variant]` from the descriptor of the index that listed it. */
  platform: string | undefined;
}

export interface ImageGraph {
  /** Every manifest and index reached, children before the indexes that list them. */
  nodes: GraphNode[];
  /** Every distinct config and layer of the image manifests reached. */
  blobs: Descriptor[];
  /** References asked for (roots or children of an index) that the registry does not have. */
  missing: string[];
}

export interface WalkOptions {
  /** Manifest GETs in flight. Default 1. */
  concurrency?: number;
  /** Digests walked already (shared over several walks, e.g. every tag of a repository): not fetched again. */
  seen?: Set<string>;
  /** Called for each reference the registry does not have; throw to stop the walk (a copy needs every child). */
  onMissing?: (ref: string, parent: string | undefined) => void;
}

/** Fetches `roots` and, level by level, every manifest their indexes list. */
export async function walkImage(fetch: ManifestFetch, roots: readonly string[], options: WalkOptions = {}): Promise<ImageGraph> {
  const seen = options.seen ?? new Set<string>();
  const byDigest = new Map<string, GraphNode>();
  const rootDigests: string[] = [];
  const missing: string[] = [];
  let frontier: Array<{ ref: string; parent?: string; platform?: string }> = [...new Set(roots)].map((ref) => ({ ref }));
  while (frontier.length) {
    const fetched = await mapLimit(frontier, options.concurrency ?? 1, async (item) => ({ item, got: await fetch(item.ref) }));
    const next: typeof frontier = [];
    for (const { item, got } of fetched) {
      if (got === 'not-found') {
        options.onMissing?.(item.ref, item.parent);
        missing.push(item.ref);
        continue;
      }
      if (!item.parent) rootDigests.push(got.digest);
      if (seen.has(got.digest)) continue;
      seen.add(got.digest);
      const manifest = parseManifest(got.body, got.mediaType);
      byDigest.set(got.digest, { ...got, manifest, platform: item.platform });
      for (const child of manifest.children) {
        if (!seen.has(child.digest)) next.push({ ref: child.digest, parent: got.digest, platform: child.platform ? formatPlatform(child.platform) : undefined });
      }
    }
    frontier = next.filter((n, i) => next.findIndex((m) => m.ref === n.ref) === i);
  }
  // Post-order from the roots: a registry accepts an index only after the manifests it lists.
  const nodes: GraphNode[] = [];
  const placed = new Set<string>();
  const place = (digest: string) => {
    const node = byDigest.get(digest);
    if (!node || placed.has(digest)) return;
    placed.add(digest);
    for (const child of node.manifest.children) place(child.digest);
    nodes.push(node);
  };
  for (const digest of rootDigests) place(digest);
  const blobs = new Map<string, Descriptor>();
  for (const node of nodes) {
    for (const descriptor of [node.manifest.config, ...node.manifest.layers]) {
      if (descriptor && !blobs.has(descriptor.digest)) blobs.set(descriptor.digest, descriptor);
    }
  }
  return { nodes, blobs: [...blobs.values()], missing };
}

export interface ReadConfigOptions {
  /** The descriptor's size: more bytes than this is an error (the registry lies), not a config. */
  size?: number;
  /** Cap on what the caller is willing to hold. Default `MAX_CONFIG_BYTES`. */
  maxBytes?: number;
}

/**
 * An image config (or another small JSON blob) as an object; `undefined` when it is over
 * `maxBytes` or not a JSON object, since callers only read optional facts (date, platform) from
 * it. With the descriptor's `size`, bytes past it are an error (the registry lies about the
 * blob); either way the read stops at the bound, nothing past it is held.
 */
export async function readConfig(client: BlobGetter, repository: string, digest: string, options: ReadConfigOptions | number = {}): Promise<Record<string, unknown> | undefined> {
  const { size, maxBytes = MAX_CONFIG_BYTES } = typeof options === 'number' ? { maxBytes: options } : options;
  if (size !== undefined && size > maxBytes) {
    throw new ManifestSyntaxError(`config ${digest} is ${size} bytes, over the ${maxBytes}-byte cap`);
  }
  const stream = await client.blobGet(repository, digest, size === undefined ? undefined : { size });
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      stream.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return tryParseConfig(Buffer.concat(chunks));
}

/** The digest each tag names now (a HEAD per tag); tags deleted meanwhile are left out. */
export async function resolveTags(
  client: ManifestHeader,
  repository: string,
  tags: readonly string[] | undefined,
  concurrency: number,
): Promise<Array<{ tag: string; digest: string }>> {
  const list = tags ?? (await client.tagList(repository));
  const resolved = await mapLimit(list, concurrency, async (tag) => {
    const head = await client.manifestHead(repository, tag);
    return head === 'not-found' ? undefined : { tag, digest: head.digest };
  });
  return resolved.filter((t): t is { tag: string; digest: string } => t !== undefined);
}
