// @auren-test-tools registry (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { rm } from 'node:fs/promises';
import { type TestRegistry, startTestRegistries } from '../../testing/registry-server.testing';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import { executePush, planPush } from '../registry/push';
import { writeTestLayout, type TestLayout } from '../registry/layout.testing';
import { mirrorEntries, runMirror, type MirrorOutcome } from './mirror';
import { deferred } from '../../testing/deferred.testing';

/**
 * Version tags in the mirror are immutable like everywhere in our registry, under a race too:
 * two mirrors of different images onto one version tag (two upstreams mapped to one mirror
 * name, or an upstream tag re-pointed while a mirror runs) never both report it mirrored. Real
 * registries; only the target client's calls on the tag wait for the other mirror, to force
 * the interleaving (the registry has no compare-and-swap, so nothing else can show it).
 */

const TAG = 'v1.0.0';
const REPOSITORY = 'auren/mirror/org/tool';


/** The real client; its PUT of TAG and the HEADs of TAG after that PUT wait for the script. */
function scripted(client: RegistryClient, hooks: { beforePut?: () => Promise<void>; afterPut?: () => void; headAfterPut?: () => Promise<void> }): RegistryClient {
  let wrote = false;
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'manifestHead') {
        return async (repo: string, ref: string) => {
          if (ref === TAG && wrote) await hooks.headAfterPut?.();
          return target.manifestHead(repo, ref);
        };
      }
      if (prop === 'manifestPut') {
        return async (repo: string, ref: string, body: Buffer, mediaType: string) => {
          if (ref !== TAG) return target.manifestPut(repo, ref, body, mediaType);
          await hooks.beforePut?.();
          const result = await target.manifestPut(repo, ref, body, mediaType);
          wrote = true;
          hooks.afterPut?.();
          return result;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

let upstreamA: TestRegistry;
let upstreamB: TestRegistry;
let ours: TestRegistry;
const layouts: TestLayout[] = [];
const digests: Record<'a' | 'b', string> = { a: '', b: '' };

async function publish(registry: TestRegistry, repository: string, tags: string[]): Promise<string> {
  const layout = await writeTestLayout({ platforms: ['linux/amd64'] });
  layouts.push(layout);
  const client = createRegistryClient({ registry: registry.host });
  await executePush(client, await planPush(client, layout.layout, { repository, tags }));
  return layout.digest;
}

beforeAll(async () => {
  [upstreamA, upstreamB, ours] = await startTestRegistries({}, {}, { flavor: 'distribution3' });
  digests.a = await publish(upstreamA, 'org/tool', [TAG]);
  digests.b = await publish(upstreamB, 'org/tool', [TAG]);
}, 60_000);

afterAll(async () => {
  await Promise.all([upstreamA?.stop(), upstreamB?.stop(), ours?.stop()]);
  await Promise.all(layouts.map((l) => rm(l.dir, { recursive: true, force: true })));
});

const mirror = (upstream: TestRegistry, target: RegistryClient, image = `org/tool:${TAG}`): Promise<MirrorOutcome[]> =>
  runMirror({
    entries: mirrorEntries([image], { namespace: 'auren', sourceRegistry: upstream.host }),
    registry: ours.host,
    target,
    sourceClient: async (registry) => createRegistryClient({ registry }),
    dryRun: false,
    log: () => undefined,
  });

const tagDigest = async (tag = TAG) => {
  const head = await createRegistryClient({ registry: ours.host }).manifestHead(REPOSITORY, tag);
  return head === 'not-found' ? undefined : head.digest;
};

function expectConflict(outcome: MirrorOutcome, ours: string, theirs: string) {
  expect(outcome.status).toBe('failed');
  expect(outcome.error).toContain(`${REPOSITORY}:${TAG}`);
  expect(outcome.error).toContain(ours);
  expect(outcome.error).toContain(theirs);
}

it('two mirrors write one version tag at once: the one whose write was overwritten fails naming both digests; the tag keeps the other', async () => {
  const aAtPut = deferred(), bAtPut = deferred(), aPutDone = deferred(), bPutDone = deferred();
  const clientA = scripted(createRegistryClient({ registry: ours.host }), {
    beforePut: async () => {
      aAtPut.resolve();
      await bAtPut.promise;
    },
    afterPut: () => aPutDone.resolve(),
    // A reads the tag back only after B has overwritten it.
    headAfterPut: () => bPutDone.promise,
  });
  const clientB = scripted(createRegistryClient({ registry: ours.host }), {
    beforePut: async () => {
      bAtPut.resolve();
      await aPutDone.promise;
    },
    afterPut: () => bPutDone.resolve(),
  });
  const [ra, rb] = await Promise.all([mirror(upstreamA, clientA), mirror(upstreamB, clientB)]);
  expect(rb.map((o) => [o.status, o.error])).toEqual([['mirrored', undefined]]);
  expectConflict(ra[0], digests.a, digests.b);
  expect(await tagDigest()).toBe(digests.b);
});

it('a version tag the mirror already has under another image is never moved: the mirror fails naming both digests', async () => {
  const [outcome] = await mirror(upstreamA, createRegistryClient({ registry: ours.host }));
  expectConflict(outcome, digests.a, digests.b);
  expect(outcome.error).toMatch(/immutable/);
  expect(await tagDigest()).toBe(digests.b);
  expect((await mirror(upstreamB, createRegistryClient({ registry: ours.host })))[0].status).toBe('unchanged');
});

it('tags that are not versions still follow upstream', async () => {
  await publish(upstreamA, 'org/tool', ['1-alpine']);
  const first = await mirror(upstreamA, createRegistryClient({ registry: ours.host }), 'org/tool:1-alpine');
  expect(first[0].status).toBe('mirrored');
  const rebuilt = await publish(upstreamA, 'org/tool', ['1-alpine']);
  const again = await mirror(upstreamA, createRegistryClient({ registry: ours.host }), 'org/tool:1-alpine');
  expect(again.map((o) => [o.status, o.error])).toEqual([['mirrored', undefined]]);
  expect(await tagDigest('1-alpine')).toBe(rebuilt);
});

