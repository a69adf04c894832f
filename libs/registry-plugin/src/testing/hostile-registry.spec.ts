import { Readable } from 'node:stream';
import { request } from 'undici';
import { createRegistryClient } from '../lib/registry/client';
import { sha256Digest } from '../lib/registry/digest';
import { serveImage, startHostileRegistry, tinyImage, type HostileRegistry } from './hostile-registry.testing';

/** The stand-in must behave as a registry when told nothing, and misbehave exactly as told. */
let registry: HostileRegistry;
beforeEach(async () => {
  registry = await startHostileRegistry({ basicAuth: { username: 'u', password: 'p' } });
});
afterEach(() => registry.stop());

const client = () =>
  createRegistryClient({ registry: registry.host, insecure: true, authenticator: { cached: () => undefined, authorize: async () => `Basic ${Buffer.from('u:p').toString('base64')}`, secrets: () => [] } });

it('serves pull and push like a registry, and records who sent credentials', async () => {
  const image = tinyImage({ labels: { a: 'b' } });
  serveImage(registry, 'app', 'v1', image);
  const got = await client().manifestGet('app', 'v1');
  expect(got !== 'not-found' && got.digest).toBe(image.manifest.digest);
  const data = Buffer.from('pushed');
  await expect(client().blobUpload('app', { digest: sha256Digest(data), size: data.length, open: () => Readable.from([data]) })).resolves.toBe('uploaded');
  expect(await client().blobHead('app', sha256Digest(data))).toEqual({ size: data.length });
  await expect(client().tagList('app')).resolves.toEqual(['v1']);
  expect(registry.requests[0].authorization).toBeUndefined();
  expect(registry.authorized().length).toBeGreaterThan(0);
});

it('misbehaves per request as the test decides, and stops endless answers on stop()', async () => {
  registry.misbehave(({ path }) => (path === '/endless' ? { kind: 'endless' } : path === '/teapot' ? { kind: 'respond', status: 418, body: 'no' } : undefined));
  const teapot = await request(`${registry.origin}/teapot`);
  expect(teapot.statusCode).toBe(418);
  expect(await teapot.body.text()).toBe('no');
  const endless = await request(`${registry.origin}/endless`);
  let bytes = 0;
  for await (const chunk of endless.body) {
    bytes += (chunk as Buffer).length;
    if (bytes > 1 << 20) break;
  }
  expect(bytes).toBeGreaterThan(1 << 20);
});
