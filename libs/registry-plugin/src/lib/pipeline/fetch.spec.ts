import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { serveImage, startHostileRegistry, tinyImage, type HostileRegistry } from '../../testing/hostile-registry.testing';
import { AurenError } from '../errors/errors';
import { createRegistryClient } from '../registry/client';
import { readLayoutImages } from '../registry/layout';
import { fetchRelease, VERSION_LABEL } from './fetch';

/** A released image is outside input: its digests name files only once they are checked. */
const FAST_RETRY = { attempts: 2, baseDelayMs: 5, maxDelayMs: 10, deadlineMs: 5_000 };
const labels = { [VERSION_LABEL]: '1.0.0' };

let registry: HostileRegistry;
let scratch: string;
beforeEach(async () => {
  registry = await startHostileRegistry();
  scratch = await mkdtemp(join(tmpdir(), 'auren-fetch-spec-'));
});
afterEach(async () => {
  await registry.stop();
  await rm(scratch, { recursive: true, force: true });
});

const client = () => createRegistryClient({ registry: registry.host, insecure: true, retry: FAST_RETRY, bodyIdleTimeoutMs: 300, lowSpeedLimit: { bytesPerSecond: 1_000, windowMs: 300 } });

it('writes a released image as a layout (control)', async () => {
  serveImage(registry, 'auren/api', 'v1.0.0', tinyImage({ labels }));
  const outputDir = join(scratch, 'out', 'layout');
  const outcome = await fetchRelease({ client: client(), repository: 'auren/api', version: '1.0.0', outputDir });
  if (outcome.status !== 'fetched') throw new Error(`expected a fetched image, got ${outcome.status}`);
  // Laid out as a build exports it (`oci:<dir>:latest`), so scan and push read it as they read a build.
  expect(outcome.layout.annotations['org.opencontainers.image.ref.name']).toBe('latest');
  expect(JSON.parse(await readFile(join(outputDir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
  expect((await readLayoutImages(outputDir)).images.map((image) => image.manifestDigest)).toEqual([outcome.layout.digest]);
});

it('a path-like layer digest creates or truncates no file outside the layout', async () => {
  const outputDir = join(scratch, 'out', 'layout');
  const victim = join(scratch, 'victim');
  await writeFile(victim, 'keep me');
  // The digest the registry names is a path from the blob folder to the victim.
  const staging = `${outputDir}.fetch-${process.pid}`;
  await mkdir(join(staging, 'blobs', 'sha256'), { recursive: true });
  const escape = relative(join(staging, 'blobs', 'sha256'), victim);
  const image = tinyImage({
    labels,
    edit: (m) => {
      m.layers[0].digest = `sha256:${escape}`;
    },
  });
  serveImage(registry, 'auren/api', 'v1.0.0', image);

  const error = await fetchRelease({ client: client(), repository: 'auren/api', version: '1.0.0', outputDir }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AurenError);
  expect(await readFile(victim, 'utf8')).toBe('keep me');
  expect(existsSync(outputDir)).toBe(false);
});

it('a layer larger than its descriptor fails and leaves nothing behind', async () => {
  const image = tinyImage({ labels, layers: [Buffer.from('a small layer')] });
  serveImage(registry, 'auren/api', 'v1.0.0', image);
  registry.misbehave(({ path }) =>
    path.endsWith(image.layers[0].digest) ? { kind: 'respond', status: 200, body: Buffer.concat([image.layers[0].body, Buffer.alloc(1 << 20)]) } : undefined,
  );
  const outputDir = join(scratch, 'layout');
  await expect(fetchRelease({ client: client(), repository: 'auren/api', version: '1.0.0', outputDir })).rejects.toThrow(/more than the 13 bytes/);
  expect(existsSync(outputDir)).toBe(false);
  expect(existsSync(`${outputDir}.fetch-${process.pid}`)).toBe(false);
});

it('a layer that trickles fails in bounded time and leaves nothing behind', async () => {
  const image = tinyImage({ labels });
  serveImage(registry, 'auren/api', 'v1.0.0', image);
  registry.misbehave(({ path }) => (path.endsWith(image.layers[0].digest) ? { kind: 'trickle', intervalMs: 20 } : undefined));
  const outputDir = join(scratch, 'layout');
  await expect(fetchRelease({ client: client(), repository: 'auren/api', version: '1.0.0', outputDir })).rejects.toThrow(AurenError);
  expect(existsSync(`${outputDir}.fetch-${process.pid}`)).toBe(false);
});
