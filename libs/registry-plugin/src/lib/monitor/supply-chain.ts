import { subjectOfAttachedTag } from '../registry/digest';
import type { Descriptor } from '../registry/media-types';
import type { Check, Level, RepositoryReport } from './report';
import { SLSA_PROVENANCE_V1 } from '../supply-chain/provenance';
import { CYCLONEDX_MEDIA_TYPE } from '../supply-chain/sbom';
import { COSIGN_SIGN_PREDICATE } from '../supply-chain/referrers';

/**
 * What the monitor says about the supply chain: whether each repository's newest image has a
 * signature and an SBOM attached. This checks presence (an artifact of the right type listed
 * for the digest, or cosign's legacy `.sig` tag), not cryptography: `cosign verify` is the
 * deploy gate's job, with the key. A registry full of images nobody can vouch for is what the
 * monitor is for.
 */

/** cosign v3 bundles (`application/vnd.dev.sigstore.bundle.v0.3+json` and later versions). */
const SIGNATURE_TYPES = /^application\/vnd\.dev\.sigstore\.bundle(\.v[\d.]+)?\+json$/;
/**
 * cosign v3 stores signatures and attestations as the same bundle type and tells them apart by
 * this annotation: `https://sigstore.dev/cosign/sign/v1` for a signature, the predicate type
 * (e.g. SLSA provenance) for an attestation. An attestation is not a signature of the image.
 */
const BUNDLE_PREDICATE = 'dev.sigstore.bundle.predicateType';
const SBOM_TYPES = [CYCLONEDX_MEDIA_TYPE, 'application/spdx+json', 'application/vnd.syft+json'];

export interface AttachedFacts {
  signed: boolean;
  sbom: boolean;
  /** A signed SLSA v1 provenance attestation is attached. */
  provenance: boolean;
}

/**
 * Facts per subject digest from the repository's tags: referrer indexes (`sha256-<hex>`, with
 * the descriptors they list) and cosign's legacy `sha256-<hex>.sig` / `.sbom` tags.
 */
export function attachedFacts(tags: ReadonlyArray<{ tag: string; descriptors: readonly Descriptor[] }>): Map<string, AttachedFacts> {
  const facts = new Map<string, AttachedFacts>();
  const of = (subject: string) => facts.get(subject) ?? facts.set(subject, { signed: false, sbom: false, provenance: false }).get(subject)!;
  for (const { tag, descriptors } of tags) {
    const subject = subjectOfAttachedTag(tag);
    if (!subject) continue;
    const entry = of(subject);
    if (tag.endsWith('.sig')) entry.signed = true;
    else if (tag.endsWith('.sbom')) entry.sbom = true;
    else if (!tag.endsWith('.att')) {
      for (const d of descriptors) {
        if (d.artifactType && SIGNATURE_TYPES.test(d.artifactType)) {
          const predicate = d.annotations?.[BUNDLE_PREDICATE];
          if (predicate === undefined || predicate === COSIGN_SIGN_PREDICATE) entry.signed = true;
          else if (predicate === SLSA_PROVENANCE_V1) entry.provenance = true;
        }
        if (d.artifactType && SBOM_TYPES.includes(d.artifactType)) entry.sbom = true;
      }
    }
  }
  return facts;
}

export const isReferrerTag = (tag: string): boolean => subjectOfAttachedTag(tag) !== undefined;

export interface SupplyChainThresholds {
  /** Repositories whose newest image is unsigned: above `target` warns, above `alert` alerts. */
  unsignedImages: { target: number; alert: number | undefined };
  imagesWithoutSbom: { target: number; alert: number | undefined };
}

export const DEFAULT_SUPPLY_CHAIN_THRESHOLDS: SupplyChainThresholds = {
  // Warn by default; alert (monitor exits 3) only when the team sets a level, since a registry
  // without signing configured is a choice, not an outage.
  unsignedImages: { target: 0, alert: undefined },
  imagesWithoutSbom: { target: 0, alert: undefined },
};

export interface SupplyChainImage {
  repository: RepositoryReport;
  label: string;
  signed: boolean | undefined;
  sbom: boolean | undefined;
}

function level(count: number, t: { target: number; alert: number | undefined }): Level {
  if (t.alert !== undefined && count > t.alert) return 'alert';
  return count > t.target ? 'warn' : 'ok';
}

/** One check per metric over every repository's newest image. */
export function supplyChainChecks(images: readonly SupplyChainImage[], t: SupplyChainThresholds): Check[] {
  const known = images.filter((i) => i.signed !== undefined);
  if (!known.length) return [];
  const make = (metric: 'unsigned-images' | 'images-without-sbom', missing: SupplyChainImage[], th: { target: number; alert: number | undefined }, what: string): Check => {
    const l = level(missing.length, th);
    const names = missing.map((i) => i.label).join(', ');
    return {
      metric,
      subject: 'newest image of each repository',
      level: l,
      value: missing.length,
      unit: 'count',
      target: th.target,
      ...(th.alert !== undefined ? { alert: th.alert } : {}),
      message:
        missing.length === 0
          ? `every newest image (${known.length}) has ${what}`
          : `${l === 'alert' ? 'ALERT: ' : ''}${missing.length} of ${known.length} newest images without ${what}: ${names}` +
            (metric === 'unsigned-images'
              ? ' (push again: pushes to the embedded registry are signed with the local key pair; other registries need signing.key, a KMS key or keyless)'
              : ' (install trivy, scan and push again)'),
    };
  };
  return [
    make('unsigned-images', known.filter((i) => !i.signed), t.unsignedImages, 'a signature'),
    make('images-without-sbom', known.filter((i) => !i.sbom), t.imagesWithoutSbom, 'an SBOM'),
  ];
}
