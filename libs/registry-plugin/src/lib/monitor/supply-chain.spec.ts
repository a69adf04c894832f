import type { RepositoryReport } from './report';
import { attachedFacts, DEFAULT_SUPPLY_CHAIN_THRESHOLDS, supplyChainChecks, type SupplyChainImage } from './supply-chain';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const t = (digest: string) => digest.replace(':', '-');
const repo = (name: string) => ({ name, app: name, tagCount: 1, images: [] }) as RepositoryReport;
const image = (name: string, signed: boolean, sbom: boolean): SupplyChainImage => ({ repository: repo(name), label: `${name}:v1.0.0`, signed, sbom });

describe('supply chain in the monitor', () => {
  it('reads what is attached from referrer indexes and legacy cosign tags', () => {
    const facts = attachedFacts([
      { tag: 'v1.0.0', descriptors: [] },
      { tag: t(d('a')), descriptors: [{ mediaType: 'm', digest: d('1'), size: 1, artifactType: 'application/vnd.cyclonedx+json' }, { mediaType: 'm', digest: d('2'), size: 1, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }] },
      { tag: t(d('b')), descriptors: [{ mediaType: 'm', digest: d('3'), size: 1, artifactType: 'application/vnd.cyclonedx+json' }] },
      { tag: `${t(d('c'))}.sig`, descriptors: [] },
      { tag: `${t(d('c'))}.att`, descriptors: [] },
    ]);
    expect(Object.fromEntries(facts)).toEqual({
      [d('a')]: { signed: true, sbom: true, provenance: false },
      [d('b')]: { signed: false, sbom: true, provenance: false },
      [d('c')]: { signed: true, sbom: false, provenance: false },
    });
  });

  it('tells a cosign v3 signature from an attestation by the bundle predicate type', () => {
    const bundle = 'application/vnd.dev.sigstore.bundle.v0.3+json';
    const of = (predicate: string) => ({ mediaType: 'm', digest: d('9'), size: 1, artifactType: bundle, annotations: { 'dev.sigstore.bundle.predicateType': predicate } });
    const facts = attachedFacts([
      { tag: t(d('a')), descriptors: [of('https://slsa.dev/provenance/v1')] },
      { tag: t(d('b')), descriptors: [of('https://sigstore.dev/cosign/sign/v1'), of('https://slsa.dev/provenance/v1')] },
    ]);
    expect(Object.fromEntries(facts)).toEqual({
      [d('a')]: { signed: false, sbom: false, provenance: true },
      [d('b')]: { signed: true, sbom: false, provenance: true },
    });
  });

  it.each([
    ['all signed, all with SBOM', [image('a', true, true), image('b', true, true)], DEFAULT_SUPPLY_CHAIN_THRESHOLDS, ['ok', 'ok']],
    ['one unsigned: warns by default', [image('a', false, true), image('b', true, true)], DEFAULT_SUPPLY_CHAIN_THRESHOLDS, ['warn', 'ok']],
    ['alert level 0 set: alerts', [image('a', false, false)], { unsignedImages: { target: 0, alert: 0 }, imagesWithoutSbom: { target: 0, alert: 1 } }, ['alert', 'warn']],
    ['target 1: one missing is fine', [image('a', false, false), image('b', true, true)], { unsignedImages: { target: 1, alert: 2 }, imagesWithoutSbom: { target: 1, alert: undefined } }, ['ok', 'ok']],
  ] as const)('%s', (_name, images, thresholds, levels) => {
    const checks = supplyChainChecks(images, thresholds);
    expect(checks.map((c) => c.metric)).toEqual(['unsigned-images', 'images-without-sbom']);
    expect(checks.map((c) => c.level)).toEqual(levels);
  });

  it('names the images that lack a signature and says what to do', () => {
    const [unsigned] = supplyChainChecks([image('auren/api', false, true), image('auren/nginx', false, true), image('auren/bridge', true, true)], { unsignedImages: { target: 0, alert: 1 }, imagesWithoutSbom: { target: 0, alert: undefined } });
    expect(unsigned).toMatchObject({ level: 'alert', value: 2, alert: 1 });
    expect(unsigned.message).toBe('ALERT: 2 of 3 newest images without a signature: auren/api:v1.0.0, auren/nginx:v1.0.0 (push again: pushes to the embedded registry are signed with the local key pair; other registries need signing.key, a KMS key or keyless)');
  });

  it('no images: no checks', () => {
    expect(supplyChainChecks([], DEFAULT_SUPPLY_CHAIN_THRESHOLDS)).toEqual([]);
  });
});
