import type { Readable } from 'node:stream';
import { serveImage, hostileRegistryPerTest, tinyImage, type HostileRegistry } from '../../testing/hostile-registry.testing';
import { AurenError } from '../errors/errors';
import { createRegistryClient } from './client';
import { copyImage, registryImageSource } from './copy';
import { digestOf, sha256Digest } from './digest';
import { OCI_INDEX } from './media-types';
import { MAX_CONFIG_BYTES, readConfig } from './image-graph';

/**
 * Nothing a registry sends is read unchecked: bodies stop at their descriptor's size, documents
 * at their cap, and a body that never ends or trickles fails in bounded time. The limits are
 * small here so the attacks fail fast; no test asserts a duration.
 */
const FAST_RETRY = { attempts: 2, baseDelayMs: 5, maxDelayMs: 10, deadlineMs: 5_000 };
const hostile = hostileRegistryPerTest();

const client = (registry: HostileRegistry) =>
  createRegistryClient({
    registry: registry.host,
    insecure: true,
    retry: FAST_RETRY,
    requestTimeoutMs: 2_000,
    bodyIdleTimeoutMs: 300,
    lowSpeedLimit: { bytesPerSecond: 1_000, windowMs: 300 },
  });

/** Reads a stream to its end, counting what reached the consumer; resolves with the error, if any. */
async function drain(stream: Readable): Promise<{ bytes: number; error: unknown }> {
  let bytes = 0;
  try {
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    return { bytes, error: undefined };
  } catch (error) {
    return { bytes, error };
  }
}

describe('blob bodies', () => {
  const layer = Buffer.from('exactly these bytes');
  const digest = sha256Digest(layer);

  it('never hand the consumer more bytes than the descriptor says', async () => {
    const registry = await hostile();
    registry.misbehave(({ path }) =>
      path.includes('/blobs/') ? { kind: 'respond', status: 200, body: Buffer.concat([layer, Buffer.alloc(1024 * 1024, 0x41)]) } : undefined,
    );
    const { bytes, error } = await drain(await client(registry).blobGet('app', digest, { size: layer.length }));
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).message).toMatch(/more than the 19 bytes/);
    expect(bytes).toBeLessThanOrEqual(layer.length);
  });

  it('refuse a Content-Length larger than the descriptor before reading', async () => {
    const registry = await hostile();
    registry.misbehave(({ path }) => (path.includes('/blobs/') ? { kind: 'respond', status: 200, headers: { 'content-length': '4096' }, body: Buffer.alloc(4096) } : undefined));
    await expect(client(registry).blobGet('app', digest, { size: layer.length })).rejects.toThrow(/4096 bytes/);
  });

  it('that never end fail once past the descriptor size', async () => {
    const registry = await hostile();
    registry.misbehave(({ path }) => (path.includes('/blobs/') ? { kind: 'endless' } : undefined));
    const { error } = await drain(await client(registry).blobGet('app', digest, { size: 100_000 }));
    expect(error).toBeInstanceOf(AurenError);
  });

  it('that trickle fail (low-speed limit)', async () => {
    const registry = await hostile();
    registry.misbehave(({ path }) => (path.includes('/blobs/') ? { kind: 'trickle', intervalMs: 20 } : undefined));
    const { error } = await drain(await client(registry).blobGet('app', digest));
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).message).toMatch(/too slowly/);
  });

  it('that stop after the headers fail (idle timeout)', async () => {
    const registry = await hostile();
    registry.misbehave(({ path }) => (path.includes('/blobs/') ? { kind: 'stall' } : undefined));
    const { error } = await drain(await client(registry).blobGet('app', digest));
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).message).toMatch(/nothing for/);
  });
});

describe('documents (manifests, tag lists, configs)', () => {
  it('a manifest that trickles fails', async () => {
    const registry = await hostile();
    registry.misbehave(({ path }) => (path.includes('/manifests/') ? { kind: 'trickle', intervalMs: 20, headers: { 'content-type': 'application/json' } } : undefined));
    await expect(client(registry).manifestGet('app', 'v1')).rejects.toThrow(AurenError);
  });

  it('a tag list that stalls fails', async () => {
    const registry = await hostile();
    registry.misbehave(({ path }) => (path.includes('/tags/list') ? { kind: 'stall', headers: { 'content-type': 'application/json' } } : undefined));
    await expect(client(registry).tagList('app')).rejects.toThrow(AurenError);
  });

  it('a manifest that never ends stops at the 4 MiB cap', async () => {
    const registry = await hostile();
    registry.misbehave(({ path }) => (path.includes('/manifests/') ? { kind: 'endless' } : undefined));
    await expect(client(registry).manifestGet('app', 'v1')).rejects.toThrow(/4194304 bytes/);
  });

  it('a config larger than its descriptor is an error, not a silent undefined', async () => {
    const registry = await hostile();
    const config = Buffer.from('{"os":"linux"}');
    registry.misbehave(({ path }) => (path.includes('/blobs/') ? { kind: 'respond', status: 200, body: Buffer.concat([config, Buffer.alloc(64)]) } : undefined));
    await expect(readConfig(client(registry), 'app', sha256Digest(config), { size: config.length })).rejects.toThrow(AurenError);
  });

  it('a config over the cap is refused before it is read whole', async () => {
    const registry = await hostile();
    registry.misbehave(({ path }) => (path.includes('/blobs/') ? { kind: 'endless' } : undefined));
    await expect(readConfig(client(registry), 'app', sha256Digest('x'), { size: MAX_CONFIG_BYTES * 2 })).rejects.toThrow(AurenError);
  });
});

describe('digests the registry must honour', () => {
  it('a manifest fetched by a sha512 digest is checked with sha512, not trusted', async () => {
    const registry = await hostile();
    const wanted = digestOf('sha512', '{"schemaVersion":2,"manifests":[]}');
    registry.misbehave(({ path }) =>
      path.includes('/manifests/') ? { kind: 'respond', status: 200, headers: { 'content-type': OCI_INDEX }, body: '{"schemaVersion":2,"manifests":[],"annotations":{"evil":"yes"}}' } : undefined,
    );
    await expect(client(registry).manifestGet('app', wanted)).rejects.toThrow(/hashes to sha512:/);
  });

  it('a Docker-Content-Digest that does not match the bytes is refused', async () => {
    const registry = await hostile();
    registry.misbehave(({ path }) =>
      path.includes('/manifests/')
        ? { kind: 'respond', status: 200, headers: { 'content-type': OCI_INDEX, 'docker-content-digest': sha256Digest('other') }, body: '{"schemaVersion":2,"manifests":[]}' }
        : undefined,
    );
    await expect(client(registry).manifestGet('app', 'v1')).rejects.toThrow(/Docker-Content-Digest/);
  });
});

describe('image graphs', () => {
  it('a manifest with a path-like layer digest is refused before any blob request', async () => {
    const registry = await hostile();
    const image = tinyImage({
      edit: (m) => {
        m.layers[0].digest = 'sha256:../../../../tmp/auren-pwned';
      },
    });
    serveImage(registry, 'app', 'v1', image);
    const error = await registryImageSource(client(registry), 'app', 'v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).message).toMatch(/invalid digest/);
    expect(registry.requests.filter((r) => r.path.includes('/blobs/'))).toEqual([]);
  });

  it('a copy stops when a layer is larger than its descriptor', async () => {
    const source = await hostile();
    const target = await hostile();
    const image = tinyImage({ layers: [Buffer.from('small layer')] });
    serveImage(source, 'app', 'v1', image);
    source.misbehave(({ path }) =>
      path.endsWith(image.layers[0].digest) ? { kind: 'respond', status: 200, body: Buffer.concat([image.layers[0].body, Buffer.alloc(1 << 20)]) } : undefined,
    );
    await expect(
      copyImage({ from: { client: client(source), repository: 'app', reference: 'v1' }, to: { client: client(target), repository: 'copy', tags: ['v1'] } }),
    ).rejects.toThrow(AurenError);
    expect(target.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'))).toEqual([]);
  });
});
