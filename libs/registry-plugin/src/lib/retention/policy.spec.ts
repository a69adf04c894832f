import fc from 'fast-check';
import { followSubjects } from './attached';
import { planRepository, type ManifestFacts, type RepositorySnapshot, type RetentionPolicy } from './policy';
import { AGING_KINDS, classifyTag, parseDateTag } from './tags';

const NOW = new Date('2025-06-30T12:00:00Z');
const POLICY: RetentionPolicy = { keepReleases: 2, keepPatterns: ['latest', 'stable-*'], devMaxAgeDays: 30, deleteUntagged: false };
const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
/** `pushedAt`: the newest push the push history records. */
const image = (digest: string, pushedAt?: string, children: string[] = [], configCreated?: string): ManifestFacts => ({
  digest,
  mediaType: children.length ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json',
  children,
  pushedAt,
  configCreated,
});
const snap = (tags: Array<[string, number]>, manifests: ManifestFacts[], untagged?: number[]): RepositorySnapshot => ({
  repository: 'auren/api',
  tags: tags.map(([tag, n]) => ({ tag, digest: d(n) })),
  manifests: Object.fromEntries(manifests.map((m) => [m.digest, m])),
  untagged: untagged?.map(d),
});
const decisionOf = (plan: ReturnType<typeof planRepository>, tag: string) => {
  const t = plan.tags.find((x) => x.tag === tag)!;
  return `${t.action}:${t.rule}`;
};

describe('classifyTag', () => {
  it.each([
    ['v1.2.3', 'release'],
    ['v1.3.0-rc.1', 'release'],
    ['1.2', 'alias'],
    ['1', 'alias'],
    ['latest', 'latest'],
    ['20250101-0930', 'date'],
    ['20251340-0930', 'other'],
    ['dev', 'dev'],
    ['dev-feature-x', 'dev-branch'],
    ['main-abc1234', 'commit'],
    ['develop-abc1234', 'commit'],
    ['feature-login-page-0123abc', 'commit'],
    ['pr-feature-x-abc1234', 'pull-request'],
    ['v1.2', 'other'],
    ['nightly', 'other'],
  ])('%s is %s', (tag, kind) => expect(classifyTag(tag)).toBe(kind));

  it('parses date tags as UTC and rejects impossible dates', () => {
    expect(parseDateTag('20250102-0304')?.toISOString()).toBe('2025-01-02T03:04:00.000Z');
    expect(parseDateTag('20250230-0000')).toBeUndefined();
  });
});

describe('planRepository', () => {
  const old = '2025-01-01T00:00:00Z';
  const fresh = '2025-06-29T00:00:00Z';
  it.each([
    // [case, tags, manifests, expectations]
    ['keeps the newest N releases by semver, not by name', [['v1.10.0', 1], ['v1.9.0', 2], ['v1.2.0', 3]], [image(d(1)), image(d(2)), image(d(3))],
      { 'v1.10.0': 'keep:newest-release', 'v1.9.0': 'keep:newest-release', 'v1.2.0': 'delete:old-release' }],
    ['keeps tags matching keep patterns, globs included', [['latest', 1], ['stable-2025', 2], ['v0.1.0', 3], ['v0.2.0', 4], ['v0.3.0', 5]],
      [1, 2, 3, 4, 5].map((n) => image(d(n))), { latest: 'keep:keep-pattern', 'stable-2025': 'keep:keep-pattern', 'v0.1.0': 'delete:old-release' }],
    ['ages dev tags by the date tag of the image, not its config created time', [['main-abc1234', 1], ['20250101-0000', 1], ['dev', 2], ['20250620-1200', 2]],
      [image(d(1), undefined, [], fresh), image(d(2), undefined, [], old)], { 'main-abc1234': 'delete:expired', '20250101-0000': 'delete:expired', dev: 'keep:recent' }],
    ['ages by the newest recorded push when there is no date tag', [['dev-feature-x', 1], ['feature-x-abc1234', 2], ['pr-y-abc1234', 3]],
      [image(d(1), old), image(d(2), fresh), image(d(3))], { 'dev-feature-x': 'delete:expired', 'feature-x-abc1234': 'keep:recent', 'pr-y-abc1234': 'keep:age-unknown' }],
    ['never ages by the config created time (1970 in reproducible builds)', [['dev', 1], ['develop-abc1234', 2], ['dev-x', 3], ['x-abc1234', 4]],
      [image(d(1), undefined, [], '1970-01-01T00:00:00Z'), image(d(2), fresh, [], '1970-01-01T00:00:00Z'), image(d(3), undefined, [], old), image(d(4), undefined, [], 'garbage')],
      { dev: 'keep:age-unknown', 'develop-abc1234': 'keep:recent', 'dev-x': 'keep:age-unknown', 'x-abc1234': 'keep:age-unknown' }],
    ['a newer push keeps an image whose date tag has expired', [['main-abc1234', 1], ['20250101-0000', 1]],
      [image(d(1), fresh)], { 'main-abc1234': 'keep:recent', '20250101-0000': 'keep:recent' }],
    ['distrusts dates before 2000 and keeps what a future date names', [['dev', 1], ['19700101-0000', 1], ['dev-x', 2], ['dev-y', 3], ['20991231-0000', 3]],
      [image(d(1)), image(d(2), '2999-01-01T00:00:00Z'), image(d(3), old)],
      { dev: 'keep:age-unknown', 'dev-x': 'keep:age-unknown', 'dev-y': 'keep:age-unknown' }],
    ['keeps every tag of an image one tag keeps', [['v2.0.0', 1], ['main-abc1234', 1], ['20240101-0000', 1], ['v1.0.0', 2], ['v0.9.0', 3]],
      [image(d(1)), image(d(2)), image(d(3))], { 'main-abc1234': 'keep:sibling-kept', '20240101-0000': 'keep:sibling-kept', 'v0.9.0': 'delete:old-release' }],
    ['never deletes unrecognised tags or aliases', [['nightly', 1], ['1.2', 2]], [image(d(1), old), image(d(2), old)],
      { nightly: 'keep:unmanaged-tag', '1.2': 'keep:release-alias' }],
    ['keeps a tagged child of a kept index', [['v1.0.0', 1], ['main-aaaaaaa', 2]], [image(d(1), undefined, [d(2), d(3)]), image(d(2), old), image(d(3), old)],
      { 'main-aaaaaaa': 'keep:child-of-kept-index' }],
  ] as Array<[string, Array<[string, number]>, ManifestFacts[], Record<string, string>]>)('%s', (_name, tags, manifests, expected) => {
    const plan = planRepository(snap(tags, manifests), POLICY, NOW);
    for (const [tag, want] of Object.entries(expected)) expect(`${tag}=${decisionOf(plan, tag)}`).toBe(`${tag}=${want}`);
  });

  it('keeps what compose files and push records refer to, by tag or digest', () => {
    const plan = planRepository(
      snap([['v0.1.0', 1], ['v0.2.0', 2], ['v0.3.0', 3], ['v0.4.0', 4], ['dev', 5]], [1, 2, 3, 4].map((n) => image(d(n))).concat(image(d(5), '2020-01-01T00:00:00Z'))),
      POLICY,
      NOW,
      [{ tag: 'v0.1.0', source: 'docker-compose.prod.yml service api' }, { digest: d(5), source: 'push record of api' }],
    );
    expect(decisionOf(plan, 'v0.1.0')).toBe('keep:protected-reference');
    expect(decisionOf(plan, 'dev')).toBe('keep:protected-reference');
    expect(decisionOf(plan, 'v0.2.0')).toBe('delete:old-release');
  });

  it('deletes untagged manifests only when asked, never children of a kept index, indexes first', () => {
    const tags: Array<[string, number]> = [['v1.0.0', 1], ['v0.1.0', 4], ['v0.0.1', 7]];
    const manifests = [image(d(1), undefined, [d(2), d(3)]), image(d(2)), image(d(3)), image(d(4), undefined, [d(5), d(6)]), image(d(5)), image(d(6)), image(d(7)), image(d(9))];
    const policy = { ...POLICY, keepReleases: 1 };
    const off = planRepository(snap(tags, manifests, [2, 3, 5, 6, 9]), policy, NOW);
    expect(off.deletions.map((x) => x.digest)).toEqual([d(4), d(7)]);
    const on = planRepository(snap(tags, manifests, [2, 3, 5, 6, 9]), { ...policy, deleteUntagged: true }, NOW);
    expect(on.deletions.map((x) => x.digest)).toEqual([d(4), d(5), d(6), d(7), d(9)]);
    expect(on.images.find((x) => x.digest === d(2))).toMatchObject({ action: 'keep', rule: 'child-of-kept-index' });
  });

  it('gives every tag a decision with a rule and a detail', () => {
    const plan = planRepository(snap([['v1.0.0', 1], ['x', 2]], [image(d(1)), image(d(2))]), POLICY, NOW);
    expect(plan.tags).toHaveLength(2);
    for (const t of plan.tags) expect(t.detail.length).toBeGreaterThan(0);
  });
});

/** Random repositories (shared digests, indexes, untagged manifests) and random policies. */
const arbTag = fc.oneof(
  fc.tuple(fc.nat(3), fc.nat(12), fc.nat(5)).map(([a, b, c]) => `v${a}.${b}.${c}`),
  fc.constantFrom('latest', 'dev', 'dev-feature-x', 'nightly', '1.2', '1'),
  fc.tuple(fc.constantFrom('main', 'develop', 'feat-a', 'pr-x'), fc.integer({ min: 0, max: 0xfffffff })).map(([b, n]) => `${b}-${n.toString(16).padStart(7, '0')}`),
  fc.date({ min: new Date('2024-01-01'), max: new Date('2025-06-30'), noInvalidDate: true }).map((dt) => dt.toISOString().replace(/[-:]/g, '').slice(0, 13).replace('T', '-')),
);
const arbRepo = fc
  .record({
    images: fc.integer({ min: 1, max: 12 }),
    tags: fc.uniqueArray(fc.tuple(arbTag, fc.nat(11)), { maxLength: 30, selector: ([t]) => t }),
    indexes: fc.array(fc.tuple(fc.nat(11), fc.uniqueArray(fc.nat(11), { maxLength: 3 })), { maxLength: 3 }),
    created: fc.array(fc.option(fc.date({ min: new Date('2024-01-01'), max: new Date('2025-06-30'), noInvalidDate: true })), { minLength: 12, maxLength: 12 }),
    untagged: fc.uniqueArray(fc.nat(11), { maxLength: 4 }),
  })
  .map(({ images, tags, indexes, created, untagged }) => {
    const manifests: Record<string, ManifestFacts> = {};
    for (let i = 0; i < 12; i++) manifests[d(i)] = image(d(i), created[i]?.toISOString());
    // Acyclic: an index only holds higher-numbered manifests.
    for (const [parent, kids] of indexes) manifests[d(parent)].children = kids.filter((k) => k > parent).map(d);
    return {
      repository: 'r',
      tags: tags.map(([tag, n]) => ({ tag, digest: d(n % images) })),
      manifests,
      untagged: untagged.map(d),
    } as RepositorySnapshot;
  });
const arbPolicy = fc.record({
  keepReleases: fc.nat(5),
  keepPatterns: fc.subarray(['latest', 'v1.*', 'dev*', 'main-*']),
  devMaxAgeDays: fc.nat(400),
  deleteUntagged: fc.boolean(),
});

describe('retention properties', () => {
  it('never deletes a kept tag, and keeps the whole closure of kept images', () => {
    fc.assert(
      fc.property(arbRepo, arbPolicy, (repo, policy) => {
        const plan = planRepository(repo, policy, NOW);
        const deleted = new Set(plan.deletions.map((x) => x.digest));
        // (1) No kept tag names a deleted digest: deleting by digest can never take a kept tag.
        for (const t of plan.tags) if (t.action === 'keep') expect(deleted.has(t.digest)).toBe(false);
        // (2) Every tag is decided the way its image is.
        for (const t of plan.tags) expect(t.action).toBe(deleted.has(t.digest) ? 'delete' : 'keep');
        // (3) No child of a kept index is deleted (transitively).
        const kept = plan.images.filter((i) => i.action === 'keep').map((i) => i.digest);
        for (const k of kept) for (const c of repo.manifests[k]?.children ?? []) expect(deleted.has(c)).toBe(false);
        // (4) The newest keepReleases releases and pattern matches are never deleted.
        for (const t of plan.tags) if (policy.keepPatterns.some((p) => new RegExp(`^${p.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`).test(t.tag))) expect(t.action).toBe('keep');
        // (5) Untagged manifests go only when asked.
        if (!policy.deleteUntagged) for (const x of plan.deletions) expect(x.tags.length).toBeGreaterThan(0);
        // (6) Indexes come before the manifests they hold.
        const order = new Map(plan.deletions.map((x, i) => [x.digest, i]));
        for (const x of plan.deletions) for (const c of repo.manifests[x.digest]?.children ?? []) if (order.has(c)) expect(order.get(c)!).toBeGreaterThan(order.get(x.digest)!);
      }),
      { numRuns: 2000 },
    );
  });

  it('is stable: planning what remains after applying a plan deletes nothing more', () => {
    fc.assert(
      fc.property(arbRepo, arbPolicy, (repo, policy) => {
        const first = planRepository(repo, policy, NOW);
        const gone = new Set(first.deletions.map((x) => x.digest));
        const rest: RepositorySnapshot = {
          ...repo,
          tags: repo.tags.filter((t) => !gone.has(t.digest)),
          untagged: [...new Set([...(repo.untagged ?? []), ...first.images.filter((i) => i.action === 'keep' && i.tags.length === 0).map((i) => i.digest)])].filter((x) => !gone.has(x)),
          manifests: Object.fromEntries(Object.entries(repo.manifests).filter(([k]) => !gone.has(k))),
        };
        const second = planRepository(rest, policy, NOW);
        expect(second.deletions.map((x) => x.digest)).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });
});

/**
 * Images with a true push time, and everything that may lie about it: the config's `created`
 * (1970 from reproducible builds, garbage, the future, any date), a push history that lacks the
 * push, records it late, or was written by a clock ahead of ours. Date tags, as the tag strategy
 * writes them, name a minute at or after the push. Some images carry SBOM and signature
 * artifacts under their referrers fallback tag.
 */
const DAY_MS = 86_400_000;
const arbConfigCreated = fc.oneof(
  fc.constant('1970-01-01T00:00:00Z'),
  fc.constant(undefined),
  fc.string({ maxLength: 12 }),
  fc.date({ min: new Date('1960-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }).map((x) => x.toISOString()),
);
const arbAgingTag = fc.oneof(
  fc.constant('dev'),
  fc.constantFrom('develop', 'main', 'feature-x', 'fix.y').chain((b) => fc.integer({ min: 0, max: 0xfffffff }).map((n) => `${b}-${n.toString(16).padStart(7, '0')}`)),
  fc.constantFrom('x', 'feature-login', 'a.b').map((b) => `dev-${b}`),
  fc.constantFrom('x', 'y').map((b) => `pr-${b}-0123abc`),
);
const arbTrueImage = fc.record({
  ageMs: fc.integer({ min: 0, max: 400 * DAY_MS }),
  history: fc.constantFrom('none', 'exact', 'late', 'skewed'),
  lateMs: fc.integer({ min: 0, max: 10 * DAY_MS }),
  configCreated: arbConfigCreated,
  dateTagLaterMinutes: fc.option(fc.nat(3 * 24 * 60)),
  tags: fc.uniqueArray(fc.oneof(arbAgingTag, fc.constantFrom('v1.0.0', 'v0.9.0', 'latest', 'nightly')), { minLength: 1, maxLength: 3 }),
  attached: fc.boolean(),
});

type TrueImage = typeof arbTrueImage extends fc.Arbitrary<infer T> ? T : never;

function trueRepository(images: Array<TrueImage>): { snapshot: RepositorySnapshot; truePush: Map<string, number> } {
  const manifests: Record<string, ManifestFacts> = {};
  const tags: RepositorySnapshot['tags'] = [];
  const truePush = new Map<string, number>();
  const taken = new Set<string>();
  images.forEach((img, i) => {
    const digest = d(i + 1);
    const pushed = NOW.getTime() - img.ageMs;
    truePush.set(digest, pushed);
    const recorded =
      img.history === 'exact' ? pushed : img.history === 'late' ? Math.min(NOW.getTime(), pushed + img.lateMs) : img.history === 'skewed' ? NOW.getTime() + img.lateMs + 1 : undefined;
    manifests[digest] = { ...image(digest, recorded === undefined ? undefined : new Date(recorded).toISOString(), [], img.configCreated) };
    const own = [...img.tags];
    if (img.dateTagLaterMinutes !== null) {
      const at = new Date(Math.ceil((pushed + img.dateTagLaterMinutes * 60_000) / 60_000) * 60_000);
      own.push(at.toISOString().replace(/[-:]/g, '').slice(0, 13).replace('T', '-'));
    }
    for (const tag of own) if (!taken.has(tag)) (taken.add(tag), tags.push({ tag, digest }));
    if (img.attached) {
      // An SBOM (500+i) and a signature (600+i) listed by the fallback index (700+i).
      for (const n of [500 + i, 600 + i]) manifests[d(n)] = image(d(n));
      manifests[d(700 + i)] = image(d(700 + i), undefined, [d(500 + i), d(600 + i)]);
      tags.push({ tag: digest.replace(':', '-'), digest: d(700 + i) });
    }
  });
  return { snapshot: { repository: 'auren/api', tags, manifests }, truePush };
}

describe('age comes only from true dates', () => {
  it('property: no image younger than devMaxAgeDays by its true push time is ever deleted, nor its SBOM and signature, whatever the config says', () => {
    fc.assert(
      fc.property(fc.array(arbTrueImage, { minLength: 1, maxLength: 10 }), arbPolicy, (images, policy) => {
        const { snapshot, truePush } = trueRepository(images);
        const plan = followSubjects(snapshot, planRepository(snapshot, policy, NOW), new Set());
        const deleted = new Set(plan.deletions.map((x) => x.digest));
        images.forEach((img, i) => {
          const digest = d(i + 1);
          const young = NOW.getTime() - truePush.get(digest)! <= policy.devMaxAgeDays * DAY_MS;
          const ages = snapshot.tags.some((t) => t.digest === digest && AGING_KINDS.includes(classifyTag(t.tag)));
          if (young && ages) {
            expect(deleted.has(digest)).toBe(false);
            if (img.attached) for (const n of [500 + i, 600 + i, 700 + i]) expect(deleted.has(d(n))).toBe(false);
          }
          // With no trusted date at all, an aging tag keeps its image.
          const dated = snapshot.tags.some((t) => t.digest === digest && classifyTag(t.tag) === 'date');
          if (ages && img.history === 'none' && !dated) expect(deleted.has(digest)).toBe(false);
        });
      }),
      { numRuns: 3000 },
    );
  });

  it('property: an image whose only tags are aging ones, pushed (by the history) long before devMaxAgeDays, is deleted', () => {
    fc.assert(
      fc.property(fc.array(arbTrueImage, { minLength: 1, maxLength: 10 }), fc.nat(100), (images, days) => {
        const policy: RetentionPolicy = { keepReleases: 0, keepPatterns: [], devMaxAgeDays: days, deleteUntagged: false };
        const { snapshot, truePush } = trueRepository(images.map((img) => ({ ...img, history: 'exact' as const, dateTagLaterMinutes: null })));
        const plan = planRepository(snapshot, policy, NOW);
        const deleted = new Set(plan.deletions.map((x) => x.digest));
        for (const [digest, pushed] of truePush) {
          const mine = snapshot.tags.filter((t) => t.digest === digest).map((t) => classifyTag(t.tag));
          if (mine.length && mine.every((k) => AGING_KINDS.includes(k)) && NOW.getTime() - pushed > days * DAY_MS) expect(deleted.has(digest)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
