import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestRegistry } from '../../testing/registry-server.testing';
import { AurenError } from '../errors/errors';
import { createRegistryClient } from '../registry/client';
import { checkJournal } from './journal-check';
import { restoreJournal } from './restore';
import { pushTestImage, pushMultiArch, type PushedManifest } from './images.testing';

/**
 * An undo journal is a file anyone with access to the workspace can edit, damage or truncate.
 * `restore` checks the whole of it before its first request: a journal that is not exactly what
 * cleanup writes restores nothing and names its first problem.
 */

const { registry, client } = useTestRegistry();
let work: string;
const REPO = 'auren/journal';
let images: PushedManifest[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'auren-journal-'));
  const multi = await pushMultiArch(client, REPO);
  images = [await pushTestImage(client, REPO), await pushTestImage(client, REPO), ...multi.children, multi.index];
  // Deleted, as a cleanup would: restore has something to put back.
  for (const m of [...images].reverse()) await client.manifestDelete(REPO, m.digest);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const entryOf = (m: PushedManifest, tags: string[] = []) => ({
  repository: REPO,
  digest: m.digest,
  mediaType: m.mediaType,
  body: m.body.toString('base64'),
  tags,
  children: m.children,
});
const journalOf = (entries: object[]) => ({ schemaVersion: 1, registry: registry.host, startedAt: '2025-06-01T00:00:00.000Z', finishedAt: '2025-06-01T00:01:00.000Z', entries });

let files = 0;
const write = (content: unknown): string => {
  const path = join(work, `j${files++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
const recording = () => {
  const requests: string[] = [];
  return { requests, client: createRegistryClient({ registry: registry.host, onRequest: (method, url) => void requests.push(`${method} ${url}`) }) };
};

describe('restore checks the whole journal before touching the registry', () => {
  it('a journal damaged in its second entry restores nothing (not the first entry, then a TypeError)', async () => {
    const path = write(journalOf([entryOf(images[0], ['dev']), { ...entryOf(images[1]), tags: null }]));
    const { requests, client: counted } = recording();
    const error = await restoreJournal(counted, path, { concurrency: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).message).toContain(path);
    expect((error as AurenError).message).toContain('entries[1].tags');
    expect(requests).toEqual([]);
    expect(await client.manifestHead(REPO, images[0].digest)).toBe('not-found');
  });

  const valid = () => journalOf([entryOf(images[0], ['dev'])]);
  const withEntry = (change: (e: Record<string, unknown>) => void) => {
    const j = valid();
    change(j.entries[0] as Record<string, unknown>);
    return j;
  };
  it.each<[string, () => unknown, RegExp]>([
    ['truncated JSON', () => JSON.stringify(valid()).slice(0, 80), /not valid JSON/],
    ['not an object', () => '[1,2]', /not a cleanup journal/],
    ['another schema version', () => ({ ...valid(), schemaVersion: 2 }), /schemaVersion/],
    ['entries not a list', () => ({ ...valid(), entries: {} }), /entries/],
    ['a missing field', () => withEntry((e) => delete e.mediaType), /entries\[0\]\.mediaType/],
    ['an unknown field', () => withEntry((e) => (e.script = 'rm -rf /')), /entries\[0\] has an unknown field "script"/],
    ['a path-like digest', () => withEntry((e) => (e.digest = 'sha256:../../../etc/passwd')), /entries\[0\]\.digest/],
    ['another algorithm', () => withEntry((e) => (e.digest = `md5:${'a'.repeat(32)}`)), /entries\[0\]\.digest/],
    ['a repository that climbs', () => withEntry((e) => (e.repository = '../auren')), /entries\[0\]\.repository/],
    ['an upper-case repository', () => withEntry((e) => (e.repository = 'Auren/API')), /entries\[0\]\.repository/],
    ['a tag outside the grammar', () => withEntry((e) => (e.tags = ['../latest'])), /entries\[0\]\.tags\[0\]/],
    ['a number for a tag', () => withEntry((e) => (e.tags = [7])), /entries\[0\]\.tags\[0\]/],
    ['bytes that do not hash to the digest', () => withEntry((e) => (e.body = Buffer.from('{}').toString('base64'))), /do not hash to/],
    ['a body that is not base64', () => withEntry((e) => (e.body = '!!not base64!!')), /entries\[0\]\.body/],
    ['a media type unlike the bytes', () => withEntry((e) => (e.mediaType = 'application/vnd.oci.image.index.v1+json')), /entries\[0\]\.mediaType/],
    ['children that are not the index\'s', () => withEntry((e) => (e.children = [images[1].digest])), /entries\[0\]\.children/],
    ['a bad start time', () => ({ ...valid(), startedAt: 'yesterday' }), /startedAt/],
    ['a duplicate entry', () => journalOf([entryOf(images[0]), entryOf(images[0])]), /entries\[1\] repeats/],
  ])('rejects %s, naming the problem and the file, with no request', async (_name, content, problem) => {
    const path = write(content());
    const { requests, client: counted } = recording();
    const error = await restoreJournal(counted, path, { concurrency: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).kind).toBe('input');
    expect((error as AurenError).message).toMatch(problem);
    expect((error as AurenError).message).toContain(path);
    expect(requests).toEqual([]);
  });

  it('restores a whole journal: platforms before their index, then tags', async () => {
    const [, , amd64, arm64, index] = images;
    const path = write(journalOf([entryOf(index, ['v9.0.0']), entryOf(amd64), entryOf(arm64)]));
    const result = await restoreJournal(client, path, { concurrency: 2 });
    expect(result.items.filter((i) => i.outcome === 'restored')).toHaveLength(4);
    expect(await client.manifestHead(REPO, 'v9.0.0')).toMatchObject({ digest: index.digest });
  });
});

/** Every place in a JSON value, as a path of keys and indexes. */
function paths(value: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return [at, ...value.flatMap((v, i) => paths(v, [...at, i]))];
  if (value && typeof value === 'object') return [at, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...at, k]))];
  return [at];
}
function mutate(root: unknown, path: Array<string | number>, how: 'set' | 'delete', value: unknown): unknown {
  if (!path.length) return how === 'set' ? value : undefined;
  const copy = (Array.isArray(root) ? [...root] : { ...(root as object) }) as Record<string | number, unknown>;
  const [head, ...rest] = path;
  if (!rest.length && how === 'delete') {
    if (Array.isArray(copy)) (copy as unknown[]).splice(head as number, 1);
    else delete copy[head];
  } else copy[head] = mutate(copy[head], rest, how, value);
  return copy;
}

const arbJunk = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('sha256:../../x', `sha256:${'A'.repeat(64)}`, '../../etc/passwd', 'auren/../x', '', 'latest', 'dev', 'a'.repeat(200), '1970-01-01T00:00:00Z', null),
);
const arbMutation = fc.record({
  where: fc.nat(),
  how: fc.constantFrom<'set' | 'delete'>('set', 'delete'),
  value: arbJunk,
});

describe('property: any journal either passes the whole check or is refused before the first request', () => {
  it('holds for mutated journals, truncated files and arbitrary JSON', async () => {
    let restoredOnce = false;
    await fc.assert(
      fc.asyncProperty(
        fc.subarray([0, 1, 2, 3, 4], { minLength: 1 }),
        fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 7, arbitrary: fc.array(arbMutation, { minLength: 1, maxLength: 3 }) }),
        fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
        fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.jsonValue() }),
        async (chosen, mutations, truncateAt, arbitrary) => {
          let value: unknown = journalOf(chosen.map((i) => entryOf(images[i], i === 4 ? ['v9.9.9'] : [])));
          for (const m of mutations) {
            const all = paths(value);
            value = mutate(value, all[m.where % all.length], m.how, m.value);
          }
          if (arbitrary !== null) value = arbitrary;
          let text = value === undefined ? '' : JSON.stringify(value);
          if (truncateAt !== null && text.length) text = text.slice(0, truncateAt % text.length);
          const path = write(text);
          let accepted = true;
          try {
            checkJournal(JSON.parse(text), path);
          } catch {
            accepted = false;
          }
          const { requests, client: counted } = recording();
          const outcome = await restoreJournal(counted, path, { concurrency: 2 }).then(
            () => 'restored',
            (e: unknown) => e,
          );
          if (!accepted) {
            expect(outcome).toBeInstanceOf(AurenError);
            expect(requests).toEqual([]);
          } else {
            // A journal that passes is restored without a TypeError on the way.
            expect(outcome === 'restored' || (outcome instanceof AurenError && outcome.kind !== 'internal')).toBe(true);
            restoredOnce ||= outcome === 'restored';
          }
        },
      ),
      { numRuns: 200 },
    );
    expect(restoredOnce).toBe(true);
  });
});
