import { createRegistryClient, type RetryOptions } from '../lib/registry/client';
import type { OciLayout } from '../lib/registry/layout';
import { executePush, planPush } from '../lib/registry/push';
import { faults, startFaultProxy } from './fault-proxy.testing';

/** Quick retries so a scenario with a dozen injected faults finishes in seconds. */
export const FAST_RETRY: Partial<RetryOptions> = { attempts: 6, baseDelayMs: 40, maxDelayMs: 400, deadlineMs: 30_000 };

/**
 * Pushes every image through a proxy that answers 503s, a 429 with Retry-After, drops
 * connections mid-blob (PATCH and PUT), resets a manifest PUT and answers slower than the
 * client's deadline. Returns the kinds of fault that were really applied.
 */
export async function pushThroughFaults(
  targetUrl: string,
  images: ReadonlyArray<{ repository: string; layout: OciLayout }>,
  tags: string[],
): Promise<string[]> {
  const proxy = await startFaultProxy({
    target: targetUrl,
    faults: [
      faults.status(503, { method: 'HEAD', path: '/blobs/', times: 3 }),
      faults.status(429, { method: 'POST', path: '/blobs/uploads/', times: 1 }, 1),
      // Mid-blob: the connection dies after 256 KiB of a chunk, in a PATCH and in a PUT.
      faults.drop(256 * 1024, { method: 'PATCH', times: 2 }),
      faults.drop(256 * 1024, { method: 'PUT', path: '/blobs/uploads/', times: 1 }),
      // Longer than the client's 1 s answer deadline: it gives up on that request and retries.
      faults.delay(1_500, { method: 'HEAD', path: '/manifests/', times: 1 }),
      faults.delay(300, { method: 'HEAD', path: '/blobs/', skip: 3, times: 4 }),
      faults.reset({ method: 'PUT', path: '/manifests/', times: 1 }),
      faults.status(503, { method: 'PUT', path: '/manifests/', times: 1 }),
    ],
  });
  try {
    const client = createRegistryClient({ registry: proxy.host, retry: FAST_RETRY, requestTimeoutMs: 1_000, chunkSizeBytes: 4 * 1024 * 1024 });
    for (const { repository, layout } of images) {
      await executePush(client, await planPush(client, layout, { repository, tags }));
    }
    // `respond 503`, `respond 429`, `drop@262144`, `delay 1500`, `reset` → one kind each.
    const kinds = proxy.log.flatMap((entry) => (entry.fault ? [entry.fault.startsWith('respond') ? entry.fault : entry.fault.split(/[ @]/)[0]] : []));
    return [...new Set(kinds)].sort();
  } finally {
    await proxy.stop();
  }
}
