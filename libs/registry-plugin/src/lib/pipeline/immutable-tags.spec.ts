import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { normalizeOptions, type AurenConfig } from '../config/options';
import { AurenError } from '../errors/errors';
import type { GitContext } from '../git';
import { promoteImage } from '../promote/run';
import { createRegistryClient, type RegistryClient } from '../registry/client';
import { executePush, planPush } from '../registry/push';
import { writeTestLayout, type TestLayout } from '../registry/layout.testing';
import { pushToRegistry, type PushOutcome } from './push';
import { deferred } from '../../testing/deferred.testing';

/**
 * Two pushes (or promotes) of different images racing for one version tag, against a real
 * registry. The registry has no compare-and-swap, so the interleavings that matter are forced:
 * each writer's client is the real one with its calls on that tag held back until the other
 * writer reaches a given step. Nothing else is stood in for.
 */

const TAG = 'v1.0.0';


interface Hooks {
  /** `n`: the how-manieth HEAD of TAG this client sends (1: the plan's, 2: just before writing, 3: the read-back). */
  beforeHead?: (n: number) => Promise<void> | void;
  afterHead?: (n: number) => Promise<void> | void;
  beforePut?: () => Promise<void> | void;
  afterPut?: () => Promise<void> | void;
}

/** The real client; only its manifest calls on TAG wait for the script. */
function scripted(client: RegistryClient, hooks: Hooks): RegistryClient {
  let heads = 0;
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'manifestHead') {
        return async (repo: string, ref: string) => {
          if (ref !== TAG) return target.manifestHead(repo, ref);
          const n = ++heads;
          await hooks.beforeHead?.(n);
          const result = await target.manifestHead(repo, ref);
          await hooks.afterHead?.(n);
          return result;
        };
      }
      if (prop === 'manifestPut') {
        return async (repo: string, ref: string, body: Buffer, mediaType: string) => {
          if (ref !== TAG) return target.manifestPut(repo, ref, body, mediaType);
          await hooks.beforePut?.();
          const result = await target.manifestPut(repo, ref, body, mediaType);
          await hooks.afterPut?.();
          return result;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const settle = <T>(promise: Promise<T>) => promise.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

function expectConflict(error: unknown, ours: string, theirs: string) {
  expect(error).toBeInstanceOf(AurenError);
  expect((error as AurenError).kind).toBe('policy');
  expect((error as AurenError).message).toContain(`:${TAG}`);
  expect((error as AurenError).message).toContain(ours);
  expect((error as AurenError).message).toContain(theirs);
}

describe('an immutable tag under a race', () => {
  let registry: TestRegistry;
  let config: AurenConfig;
  let work: string;
  const layouts: TestLayout[] = [];
  const git: GitContext = { sha: 'a'.repeat(40), sha7: 'aaaaaaa', branch: 'main', commitDate: new Date(0), isPullRequest: false } as GitContext;

  beforeAll(async () => {
    registry = await startTestRegistry();
    config = normalizeOptions({ registry: registry.host, namespace: 'auren' }, {});
    work = await mkdtemp(join(tmpdir(), 'auren-immutable-'));
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    await Promise.all(layouts.map((l) => rm(l.dir, { recursive: true, force: true })));
  });

  /** A project's artifact folder as docker-build leaves it: an OCI layout and image.json. */
  async function artifact(name: string): Promise<{ dir: string; digest: string }> {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    const layout = await writeTestLayout({ platforms: ['linux/amd64'], dir: join(dir, 'oci') });
    layouts.push(layout);
    await writeFile(
      join(dir, 'image.json'),
      JSON.stringify({ schemaVersion: 1, project: name, digest: layout.digest, mediaType: layout.layout.mediaType, platforms: ['linux/amd64'], size: layout.layout.size, labels: {}, builder: { name: 'test', version: '0' }, createdAt: '2026-01-01T00:00:00Z' }),
    );
    return { dir, digest: layout.digest };
  }

  const push = (client: RegistryClient, repository: string, project: { dir: string }, name: string): Promise<PushOutcome> =>
    pushToRegistry({
      workspaceRoot: work,
      project: { name, artifactDir: project.dir },
      config,
      client,
      repository,
      extraTags: [],
      tagsOverride: [TAG],
      git,
      version: undefined,
      requireScan: false,
      dryRun: false,
      log: () => undefined,
    });

  const tagDigest = async (repository: string) => {
    const head = await createRegistryClient({ registry: registry.host }).manifestHead(`auren/${repository}`, TAG);
    return head === 'not-found' ? undefined : head.digest;
  };

  it('both write the tag: the one whose write was overwritten fails naming both digests; the other succeeds and its digest is the tag', async () => {
    const [a, b] = [await artifact('race-a'), await artifact('race-b')];
    const aAtPut = deferred(), bAtPut = deferred(), aPutDone = deferred(), bPutDone = deferred();
    let aWrote = false;
    const clientA = scripted(createRegistryClient({ registry: registry.host }), {
      beforePut: async () => {
        aAtPut.resolve();
        await bAtPut.promise;
      },
      afterPut: () => {
        aWrote = true;
        aPutDone.resolve();
      },
      // A reads the tag back only after B has overwritten it.
      beforeHead: async () => {
        if (aWrote) await bPutDone.promise;
      },
    });
    const clientB = scripted(createRegistryClient({ registry: registry.host }), {
      beforePut: async () => {
        bAtPut.resolve();
        await aPutDone.promise;
      },
      afterPut: () => bPutDone.resolve(),
    });
    const [ra, rb] = await Promise.all([settle(push(clientA, 'race1', a, 'race-a')), settle(push(clientB, 'race1', b, 'race-b'))]);

    expect(rb.ok).toBe(true);
    expect(ra.ok).toBe(false);
    if (!ra.ok) expectConflict(ra.error, a.digest, b.digest);
    expect(await tagDigest('race1')).toBe(b.digest);
  });

  it('the other has written by the time one is about to: it refuses before writing, and the tag keeps the first image', async () => {
    const [a, b] = [await artifact('early-a'), await artifact('early-b')];
    const bPlanned = deferred(), aDone = deferred();
    const clientA = scripted(createRegistryClient({ registry: registry.host }), { beforePut: () => bPlanned.promise });
    const clientB = scripted(createRegistryClient({ registry: registry.host }), {
      afterHead: (n) => {
        if (n === 1) bPlanned.resolve();
      },
      // B looks again just before writing, after A is done.
      beforeHead: async (n) => {
        if (n === 2) await aDone.promise;
      },
      beforePut: () => {
        throw new Error('B wrote the tag after it saw another image under it');
      },
    });
    const pa = settle(push(clientA, 'race2', a, 'early-a')).finally(() => aDone.resolve());
    const [ra, rb] = await Promise.all([pa, settle(push(clientB, 'race2', b, 'early-b'))]);

    expect(ra.ok).toBe(true);
    expect(rb.ok).toBe(false);
    if (!rb.ok) expectConflict(rb.error, b.digest, a.digest);
    expect(await tagDigest('race2')).toBe(a.digest);
  });

  it('the window that is left: both read "absent", then one writes and reads back before the other writes — both succeed, the tag names the later one, and the next push of the earlier one fails naming both', async () => {
    const [a, b] = [await artifact('window-a'), await artifact('window-b')];
    const bChecked = deferred(), aDone = deferred();
    const clientA = scripted(createRegistryClient({ registry: registry.host }), { beforePut: () => bChecked.promise });
    const clientB = scripted(createRegistryClient({ registry: registry.host }), {
      afterHead: (n) => {
        if (n === 2) bChecked.resolve();
      },
      beforePut: () => aDone.promise,
    });
    const pa = settle(push(clientA, 'race3', a, 'window-a')).finally(() => aDone.resolve());
    const [ra, rb] = await Promise.all([pa, settle(push(clientB, 'race3', b, 'window-b'))]);
    expect([ra.ok, rb.ok]).toEqual([true, true]);
    expect(await tagDigest('race3')).toBe(b.digest);
    // What the operator sees: the next push of A (a re-run, or the release job's check) refuses.
    const again = await settle(push(createRegistryClient({ registry: registry.host }), 'race3', a, 'window-a'));
    expect(again.ok).toBe(false);
    if (!again.ok) expectConflict(again.error, a.digest, b.digest);
  });

  it('two promotes of different images onto one version tag: exactly one succeeds, the other fails naming both digests', async () => {
    const base = createRegistryClient({ registry: registry.host });
    const digests: string[] = [];
    for (const name of ['promote-a', 'promote-b']) {
      const layout = await writeTestLayout({ platforms: ['linux/amd64'] });
      layouts.push(layout);
      await executePush(base, await planPush(base, layout.layout, { repository: 'auren/race4', tags: [] }));
      digests.push(layout.digest);
      void name;
    }
    const aAtPut = deferred(), bAtPut = deferred(), aPutDone = deferred(), bPutDone = deferred();
    let aWrote = false;
    const clientA = scripted(createRegistryClient({ registry: registry.host }), {
      beforePut: async () => {
        aAtPut.resolve();
        await bAtPut.promise;
      },
      afterPut: () => {
        aWrote = true;
        aPutDone.resolve();
      },
      beforeHead: async () => {
        if (aWrote) await bPutDone.promise;
      },
    });
    const clientB = scripted(createRegistryClient({ registry: registry.host }), {
      beforePut: async () => {
        bAtPut.resolve();
        await aPutDone.promise;
      },
      afterPut: () => bPutDone.resolve(),
    });
    const promote = (client: RegistryClient, digest: string) =>
      promoteImage({
        request: { source: { registry: registry.host, repository: 'auren/race4', reference: digest }, target: { registry: registry.host, repository: 'auren/race4', tags: [TAG] } },
        config,
        env: {},
        dryRun: false,
        log: () => undefined,
        connect: async () => client,
      });
    const [ra, rb] = await Promise.all([settle(promote(clientA, digests[0])), settle(promote(clientB, digests[1]))]);

    expect(rb.ok).toBe(true);
    expect(ra.ok).toBe(false);
    if (!ra.ok) expectConflict(ra.error, digests[0], digests[1]);
    expect(await tagDigest('race4')).toBe(digests[1]);
  });
});
