import { serveImage, startHostileRegistry, tinyImage, type HostileRegistry } from '../../testing/hostile-registry.testing';
import { createRegistryClient } from '../registry/client';
import { timePull } from './pull';
import type { ImageReport } from './report';

/** The monitor's pull reads what a registry sends: bounded like every other read. */
let registry: HostileRegistry;
beforeEach(async () => {
  registry = await startHostileRegistry();
});
afterEach(() => registry.stop());

const client = () =>
  createRegistryClient({ registry: registry.host, insecure: true, retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 5, deadlineMs: 1_000 }, bodyIdleTimeoutMs: 300, lowSpeedLimit: { bytesPerSecond: 1_000, windowMs: 300 } });

function report(digest: string): ImageReport {
  return { digest, tags: ['v1'], version: undefined, platforms: [] } as unknown as ImageReport;
}

it('a layer larger than its descriptor is reported as an error, and no more than its size is counted', async () => {
  const image = tinyImage({ layers: [Buffer.from('twelve bytes')] });
  serveImage(registry, 'app', 'v1', image);
  registry.misbehave(({ path }) =>
    path.endsWith(image.layers[0].digest) ? { kind: 'respond', status: 200, body: Buffer.alloc(8 << 20) } : undefined,
  );
  const result = await timePull(client(), 'app', report(image.manifest.digest));
  expect(result.error).toMatch(/bytes/);
  expect(result.bytes).toBeLessThan(1 << 20);
});

it('a layer that trickles is reported as an error', async () => {
  const image = tinyImage();
  serveImage(registry, 'app', 'v1', image);
  registry.misbehave(({ path }) => (path.endsWith(image.layers[0].digest) ? { kind: 'trickle', intervalMs: 20 } : undefined));
  const result = await timePull(client(), 'app', report(image.manifest.digest));
  expect(result.error).toBeDefined();
});
