import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AurenError } from '../errors/errors';
import type { RegistryClient } from '../registry/client';
import { registryImageSource } from '../registry/copy';
import { readConfig, tryParseManifest } from '../registry/image-graph';
import { hashingStream, parseDigest } from '../registry/digest';
import { layoutBlobPath, layoutIndexWrite, readOciLayout, type OciLayout } from '../registry/layout';

/**
 * A released image is fetched, never rebuilt: when an app's version has no
 * new commits and the registry holds `v<version>` carrying that version label, its artifact is
 * the registry's image, written as the same OCI layout a build writes. Scan and push then read
 * the released digest byte for byte, on any machine, with any Nx cache or none.
 */
export type FetchOutcome =
  | { status: 'fetched'; layout: OciLayout; reference: string; bytes: number }
  | { status: 'not-found'; reference: string }
  | { status: 'label-mismatch'; reference: string; found: string | undefined };

export const VERSION_LABEL = 'org.opencontainers.image.version';

export interface FetchReleaseInput {
  client: RegistryClient;
  /** Full repository path (namespace included). */
  repository: string;
  version: string;
  /** The layout folder to write (replaced only once the whole image is down and verified). */
  outputDir: string;
}

async function readJsonBlob(client: RegistryClient, repository: string, digest: string, size: number): Promise<Record<string, unknown>> {
  const config = await readConfig(client, repository, digest, { size });
  if (config) return config;
  throw new AurenError('registry', `${client.registry}/${repository}: config blob ${digest} is not JSON`, 'The released image is damaged; rebuild it with `--rebuild` and push it under a new version.');
}

/** The labels of an image's config (for an index: its first platform's). */
async function releasedLabels(client: RegistryClient, repository: string, manifests: Array<{ body: Buffer }>): Promise<Record<string, string>> {
  for (const manifest of manifests) {
    const parsed = tryParseManifest(manifest.body);
    if (!parsed?.config?.digest) continue;
    const config = await readJsonBlob(client, repository, parsed.config.digest, parsed.config.size);
    return ((config.config as { Labels?: Record<string, string> } | undefined)?.Labels) ?? {};
  }
  return {};
}

export async function fetchRelease(input: FetchReleaseInput): Promise<FetchOutcome> {
  const { client, repository, version } = input;
  const tag = `v${version}`;
  const reference = `${client.registry}/${repository}:${tag}`;
  const head = await client.manifestHead(repository, tag);
  if (head === 'not-found') return { status: 'not-found', reference };
  const source = await registryImageSource(client, repository, tag);
  const labels = await releasedLabels(client, repository, source.manifests);
  // The label, not the tag, says which release the bytes are: a tag moved by hand, or pushed by
  // another tool, must not pass for this version.
  if (labels[VERSION_LABEL] !== version) return { status: 'label-mismatch', reference, found: labels[VERSION_LABEL] };

  const staging = `${input.outputDir}.fetch-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  // Every digest is parsed before it names a file: the registry chose them.
  const blobFile = (digest: string) => layoutBlobPath(staging, digest);
  let bytes = 0;
  try {
    for (const manifest of source.manifests) {
      const file = blobFile(manifest.digest);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, manifest.body);
    }
    for (const blob of source.blobs) {
      const file = blobFile(blob.digest);
      await mkdir(dirname(file), { recursive: true });
      // Hashed as it lands on disk, so a blob is checked before the image is used.
      const hash = hashingStream(parseDigest(blob.digest).algorithm);
      // `open` reads at most the descriptor's size (the client stops a longer body), so what
      // lands on disk is bounded; on any failure the staging folder goes, file included.
      await pipeline(blob.open(), hash, createWriteStream(file));
      const arrived = hash.result().digest;
      if (arrived !== blob.digest) {
        throw new AurenError('registry', `${reference}: blob ${blob.digest} arrived as ${arrived}`, 'The registry served damaged content; run the build again, or check the registry storage.');
      }
      bytes += blob.size;
    }
    const top = { mediaType: source.mediaType, digest: source.digest, size: source.manifests.find((m) => m.digest === source.digest)?.size ?? 0 };
    // The same single entry and ref name a build's `oci:<dir>:latest` export has.
    await layoutIndexWrite(staging, [{ ...top, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);
    await readOciLayout(staging, { verifyLayers: false });
    await rm(input.outputDir, { recursive: true, force: true });
    await rename(staging, input.outputDir);
    return { status: 'fetched', layout: await readOciLayout(input.outputDir), reference, bytes };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
