import { serveImage, startHostileRegistry, tinyImage, type HostileRegistry } from '../../testing/hostile-registry';
import { createRegistryClient } from '../registry/client';
import { executeCopy, planCopy } from './copy-plan';
import { mirrorEntries, runMirror } from './mirror';

/** Mirror and promote read a source registry: a source that lies about a layer stops the copy. */
const servers: HostileRegistry[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function hostile(): Promise<HostileRegistry> {
  const server = await startHostileRegistry();
  servers.push(server);
  return server;
}

const client = (registry: HostileRegistry) =>
  createRegistryClient({ registry: registry.host, insecure: true, retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10, deadlineMs: 5_000 }, bodyIdleTimeoutMs: 300, lowSpeedLimit: { bytesPerSecond: 1_000, windowMs: 300 } });

const manifestPuts = (registry: HostileRegistry) => registry.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'));

async function lyingSource(repository: string, tag: string): Promise<HostileRegistry> {
  const source = await hostile();
  const image = tinyImage({ layers: [Buffer.from('small layer')] });
  serveImage(source, repository, tag, image);
  source.misbehave(({ path }) =>
    path.endsWith(image.layers[0].digest) ? { kind: 'respond', status: 200, body: Buffer.concat([image.layers[0].body, Buffer.alloc(1 << 20)]) } : undefined,
  );
  return source;
}

it('mirror reports a source that lies about a layer, and tags nothing in the target', async () => {
  const source = await lyingSource('library/redis', '7');
  const target = await hostile();
  const outcomes = await runMirror({
    entries: mirrorEntries([`${source.host}/library/redis:7`], { namespace: 'auren' }),
    registry: target.host,
    target: client(target),
    sourceClient: async () => client(source),
    dryRun: false,
    log: () => undefined,
  });
  expect(outcomes.map((o) => o.status)).toEqual(['failed']);
  expect(outcomes[0].error).toMatch(/more than the 11 bytes/);
  expect(manifestPuts(target)).toEqual([]);
});

it('promote (plan, then copy) stops at the same lie', async () => {
  const source = await lyingSource('auren/api', 'v1');
  const target = await hostile();
  const plan = await planCopy({ from: { client: client(source), repository: 'auren/api', reference: 'v1' }, to: { client: client(target), repository: 'auren/api', tags: ['v1'] } });
  await expect(executeCopy(client(target), plan)).rejects.toThrow(/more than the 11 bytes/);
  expect(manifestPuts(target)).toEqual([]);
});
