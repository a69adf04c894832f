import { PassThrough, pipeline } from 'node:stream';
import { AurenError } from '../errors/errors';
import type { BlobSource, RegistryClient } from './client';
import { isDigest } from './digest';
import { walkImage, type ManifestFetch } from './image-graph';
import type { Descriptor } from './media-types';
import { validateRepository } from './reference';
import { executePush, planImagePush, type ImageSource, type PushProgress, type PushResult } from './push';

/**
 * Copy an image between repositories, by digest, every platform of an index, manifests byte for
 * byte (so the digest is the same on both sides). Same registry: blobs are cross-repository
 * mounted (nothing at all moves within one repository). Different registries: only the blobs the
 * target lacks are streamed across. Used by promote and mirror.
 */
export interface CopyOptions {
  from: { client: RegistryClient; repository: string; reference: string };
  to: { client: RegistryClient; repository: string; tags: string[] };
  immutableTags?: (tag: string) => boolean;
  /** Blob transfers in flight. Default 3. */
  concurrency?: number;
  dryRun?: boolean;
  onProgress?: (event: PushProgress) => void;
}

export interface CopyResult extends PushResult {
  mediaType: string;
  platforms: string[];
}

/** Layers docker marks as not to be redistributed (Windows base layers) stay where they are. */
const NON_DISTRIBUTABLE = /nondistributable|foreign/;

function streamingSource(client: RegistryClient, repository: string, descriptor: Descriptor): BlobSource {
  return {
    digest: descriptor.digest,
    size: descriptor.size,
    // `open` must return a stream at once; the GET answers later and is piped in.
    open: () => {
      const out = new PassThrough();
      // The descriptor's size bounds the read: a source that sends more fails the copy.
      client.blobGet(repository, descriptor.digest, { size: descriptor.size }).then(
        (body) => pipeline(body, out, () => undefined),
        (error) => out.destroy(error),
      );
      return out;
    },
    // Chunked uploads ask for each chunk: a ranged GET, not a re-read of the blob from byte 0.
    openRange: (start, end) => {
      const out = new PassThrough();
      client.blobGetRange(repository, descriptor.digest, start, end).then(
        (body) => pipeline(body, out, () => undefined),
        (error) => out.destroy(error),
      );
      return out;
    },
  };
}

/** The image at `repository:reference` as a source for `planImagePush`, read with `client`. */
export async function registryImageSource(
  client: RegistryClient,
  repository: string,
  reference: string,
): Promise<ImageSource & { platforms: string[] }> {
  validateRepository(repository);
  const top = await client.manifestGet(repository, reference);
  if (top === 'not-found') {
    throw new AurenError(
      'registry',
      `${client.registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference} does not exist`,
      `List what is there with \`skopeo list-tags docker://${client.registry}/${repository}\` and check the source reference.`,
    );
  }
  const fetch: ManifestFetch = async (ref) => (ref === reference ? top : client.manifestGet(repository, ref));
  const graph = await walkImage(fetch, [reference], {
    onMissing: (ref, parent) => {
      throw new AurenError('registry', `index ${parent} in ${client.registry}/${repository} lists ${ref}, which is missing`, 'The source image is incomplete; push it again before copying.');
    },
  });
  const platforms: string[] = [];
  for (const node of graph.nodes) {
    if (node.manifest.kind === 'manifest' && node.platform && node.platform !== 'unknown/unknown' && !platforms.includes(node.platform)) platforms.push(node.platform);
  }
  const manifests: ImageSource['manifests'] = graph.nodes.map((node) => ({ digest: node.digest, mediaType: node.mediaType, size: node.body.length, body: node.body, platform: node.platform }));
  const blobs = graph.blobs
    .filter((descriptor) => !NON_DISTRIBUTABLE.test(descriptor.mediaType))
    .map((descriptor) => ({ ...streamingSource(client, repository, descriptor), mediaType: descriptor.mediaType }));
  return { digest: top.digest, mediaType: top.mediaType, manifests, blobs, platforms };
}

export async function copyImage(options: CopyOptions): Promise<CopyResult> {
  const { from, to } = options;
  const source = await registryImageSource(from.client, from.repository, from.reference);
  // By name, not baseUrl: a loopback client learns its scheme on first contact.
  const sameRegistry = from.client.registry === to.client.registry;
  const plan = await planImagePush(to.client, source, {
    repository: to.repository,
    tags: to.tags,
    immutableTags: options.immutableTags,
    mountFrom: sameRegistry ? [from.repository] : [],
  });
  const result = await executePush(to.client, plan, {
    dryRun: options.dryRun,
    // Each blob streams straight from one registry to the other: more in flight hides latency.
    concurrency: options.concurrency ?? 6,
    onProgress: options.onProgress,
  });
  return { ...result, mediaType: source.mediaType, platforms: source.platforms };
}
