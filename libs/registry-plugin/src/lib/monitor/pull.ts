import type { RegistryClient } from '../registry/client';
import { mapLimit } from '../registry/concurrency';
import { parseManifest } from '../registry/image-graph';
import type { ImageReport, PullReport } from './report';
import { runnablePlatforms } from './report';

/** Times what `docker pull` does: manifest by tag, the platform's manifest, config and layers (3 at a time), bytes read and discarded. */
export async function timePull(client: RegistryClient, repo: string, image: ImageReport): Promise<PullReport> {
  const reference = image.version && image.tags.includes(image.version) ? image.version : image.tags.find((t) => t === `v${image.version}`) ?? image.tags[0];
  const runnable = runnablePlatforms(image.platforms);
  const wanted = runnable.find((p) => p.platform === 'linux/amd64') ?? runnable[0];
  const base = { repository: repo, reference, digest: image.digest, platform: wanted?.platform ?? 'none' };
  const started = process.hrtime.bigint();
  let bytes = 0;
  try {
    const top = await client.manifestGet(repo, reference);
    if (top === 'not-found') throw new Error(`tag ${reference} disappeared`);
    bytes += top.body.length;
    let manifest = parseManifest(top.body, top.mediaType);
    if (manifest.kind === 'index') {
      const child = await client.manifestGet(repo, wanted.digest);
      if (child === 'not-found') throw new Error(`manifest ${wanted.digest} is missing`);
      bytes += child.body.length;
      manifest = parseManifest(child.body, child.mediaType);
    }
    const descriptors = [...(manifest.config ? [manifest.config] : []), ...manifest.layers];
    await mapLimit(descriptors, 3, async (d) => {
      for await (const chunk of await client.blobGet(repo, d.digest, { size: d.size })) bytes += (chunk as Buffer).length;
    });
    return { ...base, bytes, durationMs: Number(process.hrtime.bigint() - started) / 1e6 };
  } catch (error) {
    return { ...base, bytes, durationMs: Number(process.hrtime.bigint() - started) / 1e6, error: error instanceof Error ? error.message : String(error) };
  }
}
