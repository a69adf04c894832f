import { planRepository, type RepositorySnapshot, type RetentionPolicy } from './policy';
import { subjectOfAttachedTag } from '../registry/digest';
import { followSubjects } from './attached';

const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const tagOf = (digest: string) => digest.replace(':', '-');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const policy: RetentionPolicy = { keepReleases: 1, keepPatterns: ['latest'], devMaxAgeDays: 30, deleteUntagged: false };
const now = new Date('2026-06-01T00:00:00Z');

/** Two images (old release 1, new release 2), each with an SBOM (10+n) and a signature (20+n) under its fallback index (30+n). */
function snapshot(extra: Partial<RepositorySnapshot> = {}): RepositorySnapshot {
  const manifests: RepositorySnapshot['manifests'] = {};
  const tags = [];
  for (const [n, tag] of [[1, 'v1.0.0'], [2, 'v2.0.0']] as const) {
    manifests[d(n)] = { digest: d(n), mediaType: OCI_MANIFEST, children: [] };
    manifests[d(10 + n)] = { digest: d(10 + n), mediaType: OCI_MANIFEST, children: [] };
    manifests[d(20 + n)] = { digest: d(20 + n), mediaType: OCI_MANIFEST, children: [] };
    manifests[d(30 + n)] = { digest: d(30 + n), mediaType: OCI_INDEX, children: [d(10 + n), d(20 + n)] };
    tags.push({ tag, digest: d(n) }, { tag: tagOf(d(n)), digest: d(30 + n) });
  }
  return { repository: 'auren/api', tags, manifests, ...extra };
}

const actions = (plan: ReturnType<typeof followSubjects>) => Object.fromEntries(plan.images.map((i) => [i.digest, `${i.action}:${i.rule}`]));

describe('retention of attached artifacts', () => {
  it.each([
    [`sha256-${'ab'.repeat(32)}`, `sha256:${'ab'.repeat(32)}`],
    [`sha256-${'ab'.repeat(32)}.sig`, `sha256:${'ab'.repeat(32)}`],
    [`sha256-${'ab'.repeat(32)}.att`, `sha256:${'ab'.repeat(32)}`],
    ['sha256-abc', undefined],
    ['main-abcdef1', undefined],
    [`sha256-${'AB'.repeat(32)}`, undefined],
  ])('%s names subject %s', (tag, subject) => {
    expect(subjectOfAttachedTag(tag)).toBe(subject);
  });

  it('without it, the planner keeps the fallback index forever (the problem this solves)', () => {
    const plain = planRepository(snapshot(), policy, now);
    expect(plain.images.find((i) => i.digest === d(31))).toMatchObject({ action: 'keep', rule: 'unmanaged-tag' });
    expect(plain.images.find((i) => i.digest === d(1))).toMatchObject({ action: 'delete' });
  });

  it('artifacts of a deleted image go with it; those of a kept image stay', () => {
    const snap = snapshot();
    const plan = followSubjects(snap, planRepository(snap, policy, now), new Set());
    expect(actions(plan)).toEqual({
      [d(1)]: 'delete:old-release',
      [d(2)]: 'keep:newest-release',
      [d(11)]: 'delete:attached-to-deleted',
      [d(12)]: 'keep:attached-to-kept',
      [d(21)]: 'delete:attached-to-deleted',
      [d(22)]: 'keep:attached-to-kept',
      [d(31)]: 'delete:attached-to-deleted',
      [d(32)]: 'keep:attached-to-kept',
    });
    expect(plan.tags.find((t) => t.tag === tagOf(d(1)))).toMatchObject({ action: 'delete', rule: 'attached-to-deleted' });
    // The fallback index goes before the artifacts it lists: a half-done run leaves no index naming missing manifests.
    expect(plan.deletions.map((x) => x.digest)).toEqual([d(31), d(1), d(11), d(21)]);
  });

  it('an artifact index whose subject is gone is an orphan, deleted; one whose subject exists untagged stays', () => {
    const snap = snapshot();
    delete snap.manifests[d(1)];
    snap.tags = snap.tags.filter((t) => t.tag !== 'v1.0.0');
    const gone = followSubjects(snap, planRepository(snap, policy, now), new Set());
    expect(gone.images.find((i) => i.digest === d(31))).toMatchObject({ action: 'delete', rule: 'orphaned-artifact' });
    expect(gone.images.find((i) => i.digest === d(11))).toMatchObject({ action: 'delete', rule: 'orphaned-artifact' });
    const untagged = followSubjects(snap, planRepository(snap, policy, now), new Set([d(1)]));
    expect(untagged.images.find((i) => i.digest === d(31))).toMatchObject({ action: 'keep', rule: 'attached-to-kept' });
  });

  it('a protected subject keeps its artifacts', () => {
    const snap = snapshot();
    const plan = followSubjects(snap, planRepository(snap, policy, now, [{ digest: d(1), source: 'docker-compose.prod.yml' }]), new Set());
    expect(plan.deletions).toEqual([]);
  });

  it('a dev image is aged by its push, not its 1970 config: its SBOM and signature stay while it is young and go with it', () => {
    const snap = snapshot();
    // Image 1 is a dev build from a reproducible build, pushed an hour ago; image 2 one pushed 90 days ago.
    snap.tags = snap.tags.map((t) => (t.tag === 'v1.0.0' ? { ...t, tag: 'dev' } : t.tag === 'v2.0.0' ? { ...t, tag: 'dev-feature-x' } : t));
    snap.manifests[d(1)] = { ...snap.manifests[d(1)], configCreated: '1970-01-01T00:00:00Z', pushedAt: new Date(now.getTime() - 3_600_000).toISOString() };
    snap.manifests[d(2)] = { ...snap.manifests[d(2)], configCreated: '1970-01-01T00:00:00Z', pushedAt: new Date(now.getTime() - 90 * 86_400_000).toISOString() };
    const plan = followSubjects(snap, planRepository(snap, policy, now), new Set());
    expect(actions(plan)).toMatchObject({
      [d(1)]: 'keep:recent',
      [d(11)]: 'keep:attached-to-kept',
      [d(21)]: 'keep:attached-to-kept',
      [d(31)]: 'keep:attached-to-kept',
      [d(2)]: 'delete:expired',
      [d(12)]: 'delete:attached-to-deleted',
      [d(22)]: 'delete:attached-to-deleted',
      [d(32)]: 'delete:attached-to-deleted',
    });
    // Without any record of its push, the dev image and its artifacts are kept.
    delete snap.manifests[d(2)].pushedAt;
    const unknown = followSubjects(snap, planRepository(snap, policy, now), new Set());
    expect(unknown.deletions).toEqual([]);
    expect(unknown.images.find((i) => i.digest === d(2))).toMatchObject({ action: 'keep', rule: 'age-unknown' });
  });

  it('a plan without referrer tags is returned as it is', () => {
    const snap: RepositorySnapshot = { repository: 'r', tags: [{ tag: 'v1.0.0', digest: d(1) }], manifests: { [d(1)]: { digest: d(1), mediaType: OCI_MANIFEST, children: [] } } };
    const plan = planRepository(snap, policy, now);
    expect(followSubjects(snap, plan, new Set())).toBe(plan);
  });
});
