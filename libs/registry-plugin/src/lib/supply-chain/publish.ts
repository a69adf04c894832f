import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { VEX_DIR } from '../scanners/vex';
import type { AurenConfig } from '../config/options';
import { AurenError } from '../errors/errors';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import type { RegistryClient } from '../registry/client';
import { attachArtifact, attachedBundles, COSIGN_SIGN_PREDICATE, listReferrers, type IndexUpdate } from './referrers';
import { CYCLONEDX_MEDIA_TYPE, SBOM_FILE, scanAnnotations, summarizeSbom } from './sbom';
import type { BuildProvenance, PushRecord, SupplyChainRecord } from '../reports/records';
import { attestProvenance, verifyProvenance } from './attest';
import { resolveSigningIdentity } from './identity';
import { LOCAL_SIGNING_DIR } from './local-key';
import { provenancePredicate, SLSA_PROVENANCE_V1 } from './provenance';
import { signImage } from './sign';
import { publicKeyHint, verifyImage } from './verify';
import { attestVex, scanVexFiles } from './vex-attestation';

/**
 * After a successful push: the SBOM the scan made is attached to the pushed digest, the digest is
 * signed, and its SLSA provenance is attested, signature and provenance with the same identity
 * (identity.ts: the configured one, or the local key pair for the embedded registry). All are
 * keyed by digest, so running this again for the same image changes nothing (the same SBOM is
 * the same artifact manifest; a digest whose signature or provenance already verifies with the
 * public key is not signed or attested twice).
 */

export interface PublishInput {
  client: RegistryClient;
  config: AurenConfig;
  workspaceRoot: string;
  /** Full repository path (`<namespace>/<app>`). */
  repository: string;
  digest: string;
  /** `scan/sbom.cdx.json` of this image, if the scan made one. */
  sbomFile: string;
  /** The verdict of the scan that made the SBOM: attached with it, for machines that find the release complete. */
  scan?: PushRecord['scan'];
  /** docker-build's provenance inputs (provenance.json), when the image was built here. */
  provenance?: BuildProvenance;
  credentials: ResolvedCredentials | undefined;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  warn: (line: string) => void;
}

export interface PublishOutcome {
  sbom: { status: 'attached'; digest: string; index: IndexUpdate } | { status: 'already-attached'; digest: string } | { status: 'missing'; reason: string };
  signature: { status: 'signed' | 'already-signed'; by: string } | { status: 'not-configured'; reason: string; off: boolean };
  provenance: { status: 'attested' | 'already-attested' | 'attested-elsewhere' } | { status: 'missing'; reason: string } | { status: 'not-configured'; reason: string; off: boolean };
  /** The scan's OpenVEX documents (accepted findings), attested with the same identity. */
  vex?: { attested: number; already: number };
}

function provenanceState(provenance: PublishOutcome['provenance']): SupplyChainRecord['provenance'] {
  switch (provenance.status) {
    case 'attested':
    case 'already-attested':
      return { status: 'attested', detail: 'SLSA v1' };
    case 'attested-elsewhere':
      return { status: 'attested', detail: 'SLSA v1, signed by another identity' };
    case 'missing':
      return { status: 'missing', detail: provenance.reason };
    case 'not-configured':
      return { status: provenance.off ? 'off' : 'missing', detail: provenance.reason };
    default: {
      const unhandled: never = provenance;
      throw new Error(`unhandled provenance outcome ${JSON.stringify(unhandled)}`);
    }
  }
}

/** The outcome as push.json records it (the table of `auren-registry pushed` shows it). */
export function supplyChainRecord(outcome: PublishOutcome): SupplyChainRecord {
  const { sbom, signature, provenance } = outcome;
  return {
    sbom: sbom.status === 'missing' ? { status: 'missing', detail: sbom.reason } : { status: 'attached', detail: sbom.digest },
    signature: signature.status === 'not-configured' ? { status: signature.off ? 'off' : 'unsigned', detail: signature.reason } : { status: 'signed', detail: signature.by },
    provenance: provenanceState(provenance),
  };
}

export async function publishSupplyChain(input: PublishInput): Promise<PublishOutcome> {
  const { client, config, repository, digest } = input;
  const reference = `${config.registry}/${repository}@${digest}`;
  const head = await client.manifestHead(repository, digest);
  if (head === 'not-found') {
    throw new AurenError('registry', `${reference} is not in the registry right after its push`, 'Run docker-push again; if it persists, check the registry\'s storage.');
  }
  const subject = { mediaType: head.mediaType, digest: head.digest, size: head.size };

  let sbom: PublishOutcome['sbom'];
  // Trivy stamps each SBOM with a fresh serial number and time, so a scan on another machine
  // (no shared Nx cache) makes different bytes for the same image: the first SBOM attached to a
  // digest stays its SBOM, instead of one more per push.
  // The digest's referrers, read once: the SBOM and cosign's bundles are both found in it (our
  // own SBOM attach below adds no bundle).
  const referrers = await listReferrers(client, repository, digest);
  const existing = referrers.filter((d) => d.artifactType === CYCLONEDX_MEDIA_TYPE);
  if (existing.length) {
    sbom = { status: 'already-attached', digest: existing[0].digest };
    input.log(`SBOM already attached as ${existing[0].digest}`);
  } else if (existsSync(input.sbomFile)) {
    const data = await readFile(input.sbomFile);
    const summary = summarizeSbom(data.toString('utf8'));
    const attached = await attachArtifact(client, {
      repository,
      subject,
      artifactType: CYCLONEDX_MEDIA_TYPE,
      files: [{ mediaType: CYCLONEDX_MEDIA_TYPE, data, annotations: { 'org.opencontainers.image.title': SBOM_FILE } }],
      annotations: { 'dev.auren.sbom.components': String(summary.components), 'dev.auren.sbom.tool': summary.tool, ...scanAnnotations(input.scan) },
    });
    sbom = { status: 'attached', digest: attached.digest, index: attached.index };
    input.log(`SBOM (CycloneDX ${summary.specVersion}, ${summary.components} components, ${summary.debianPackages} Debian packages) attached as ${attached.digest}`);
  } else {
    sbom = { status: 'missing', reason: `no ${SBOM_FILE} from the scan` };
    input.warn(`no SBOM attached: the scan made none (${input.sbomFile}); install trivy and run the scan again`);
  }

  const built = input.provenance?.digest === digest ? input.provenance : undefined;
  const resolved = await resolveSigningIdentity({ signing: config.signing, registry: config.registry, workspaceRoot: input.workspaceRoot, env: input.env, deferLocalKey: !built });
  if (resolved.status === 'unmade') {
    // No local key pair yet, and an image this machine did not build: a key made now cannot
    // have signed anything attached, so if the image is signed there is nothing to verify and
    // nothing to sign, and no key is made (a machine that only converges on releases holds none).
    const types = (await attachedBundles(client, repository, digest, { referrers })).map((b) => b.predicateType);
    if (types.includes(COSIGN_SIGN_PREDICATE)) {
      const outcome = { sbom, signature: signedElsewhere(reference, input), provenance: elsewhereProvenance(reference, types, input) };
      await vexNotAttested(reference, input);
      return outcome;
    }
  }
  const identity = resolved.status === 'unmade' ? await resolved.make() : resolved;
  if (identity.status === 'inactive') {
    (identity.warn ? input.warn : input.log)(`not signed, no provenance: ${identity.reason}`);
    // signing: false is a choice (off); anything else is a gap the table shows as such.
    const off = !identity.warn;
    const vexFiles = await scanVexFiles(join(dirname(input.sbomFile), VEX_DIR));
    if (vexFiles.length) input.warn(`${vexFiles.length} OpenVEX document(s) not attested: nothing signs (${identity.reason})`);
    return { sbom, signature: { status: 'not-configured', reason: identity.reason, off }, provenance: { status: 'not-configured', reason: identity.reason, off } };
  }
  if (identity.created) input.log(`made the local signing key pair in ${LOCAL_SIGNING_DIR}/ (owner-only, ignored by git); its public key is ${LOCAL_SIGNING_DIR}/cosign.pub`);
  const common = {
    reference,
    registry: config.registry,
    insecureRegistries: config.insecureRegistries,
    caFile: config.caFile,
    signing: identity.signing,
    workspaceRoot: input.workspaceRoot,
    credentials: input.credentials,
    env: identity.env,
  };

  let signature: PublishOutcome['signature'];
  const canVerify = identity.signing.mode === 'keyless' || identity.signing.publicKey !== undefined;
  // What is attached, listed once in-process. cosign verify and verify-attestation (a process and
  // registry round-trips each) run only where a bundle of their kind is there to verify: a digest
  // pushed for the first time has none, and is signed and attested straight away. Skipping them
  // can only sign again (harmless), never leave a digest unsigned.
  // A bundle whose key hint names another key (a release signed on the machine that built it)
  // cannot verify with ours: cosign is not asked. The hint only ever skips a check whose answer
  // would be "does not verify", which leads to signing again or to "another identity"; a bundle
  // without a hint, or with ours, is verified by cosign as before.
  const ourHint = publicKeyHint(identity.signing, input.workspaceRoot);
  const bundles = await attachedBundles(client, repository, digest, { referrers, keyHints: ourHint !== undefined });
  const attachedTypes = bundles.map((b) => b.predicateType);
  const signedBefore = attachedTypes.includes(COSIGN_SIGN_PREDICATE);
  const mayVerify = (type: string) => canVerify && bundles.some((b) => b.predicateType === type && (!ourHint || !b.keyHint || b.keyHint === ourHint));
  // The two verifications read and write nothing the other needs: at the same time.
  const [verified, attested] = await Promise.all([
    mayVerify(COSIGN_SIGN_PREDICATE) ? verifyImage(common) : undefined,
    mayVerify(SLSA_PROVENANCE_V1) ? verifyProvenance(common) : undefined,
  ]);
  if (verified?.status === 'verified') {
    signature = { status: 'already-signed', by: identity.describe };
    input.log(`signature: ${reference} already verifies with ${identity.describe}; not signed again`);
  } else if (!built && signedBefore) {
    signature = signedElsewhere(reference, input);
  } else {
    await signImage(common);
    signature = { status: 'signed', by: identity.describe };
    input.log(`signature: signed ${reference} with cosign (${identity.describe})`);
  }

  let provenance: PublishOutcome['provenance'];
  if (attested?.status === 'verified') {
    provenance = { status: 'already-attested' };
    input.log(`provenance: ${reference} already has SLSA v1 provenance signed by ${identity.describe}; not attested again`);
  } else if (!built) {
    provenance = elsewhereProvenance(reference, attachedTypes, input);
  } else {
    await attestProvenance({ ...common, predicate: provenancePredicate(built) });
    provenance = { status: 'attested' };
    input.log(`provenance: SLSA v1 provenance of ${reference} attested with cosign (${identity.describe})`);
  }

  // Accepted findings travel with the digest they were accepted for: the OpenVEX documents the
  // scan applied (scan/vex/), signed by the same identity, so a consumer sees why.
  if (!built && signature.status === 'already-signed' && signature.by !== identity.describe) {
    await vexNotAttested(reference, input);
    return { sbom, signature, provenance };
  }
  const vexFiles = await scanVexFiles(join(dirname(input.sbomFile), VEX_DIR));
  if (vexFiles.length === 0) return { sbom, signature, provenance };
  const vex = await attestVex({ ...common, files: vexFiles, attachedTypes });
  input.log(`OpenVEX: ${vex.attested.length} document(s) attested to ${reference} (cosign attest --type openvex, ${identity.describe})${vex.already.length ? `, ${vex.already.length} already attested` : ''}`);
  return { sbom, signature, provenance, vex: { attested: vex.attested.length, already: vex.already.length } };
}

/**
 * A released image fetched on another machine carries the signature of the machine that built
 * it. Signing it again with this machine's identity would upload new blobs for an unchanged
 * release, so any machine converges on the same registry; whether that signature is trusted is
 * the deploy gate's question, answered with the public key it is given.
 */
function signedElsewhere(reference: string, input: PublishInput): PublishOutcome['signature'] {
  input.log(`signature: ${reference} is already signed by another identity (this machine did not build it, so it signs nothing)`);
  return { status: 'already-signed', by: 'another identity (this machine did not build it)' };
}

/** The provenance of an image this machine did not build: the builder's, if attached; it has no build inputs to attest. */
function elsewhereProvenance(reference: string, attachedTypes: string[], input: PublishInput): PublishOutcome['provenance'] {
  if (attachedTypes.includes(SLSA_PROVENANCE_V1)) {
    // Signed by the identity of the machine that built it, which this one does not hold.
    input.log(`provenance: ${reference} has SLSA v1 provenance from another signing identity (this machine did not build it, so it attests nothing)`);
    return { status: 'attested-elsewhere' };
  }
  const reason = input.provenance
    ? `the build's provenance record is for ${input.provenance.digest}, not ${input.digest}`
    : 'this image was not built here (fetched from the registry, or built before provenance was recorded), so there are no build inputs to attest';
  input.warn(`no provenance attached: ${reason}. \`nx run <app>:docker-build --rebuild\` and docker-push attest it`);
  return { status: 'missing', reason };
}

/** A release fetched from the machine that built it carries that machine's attestations: its OpenVEX documents are not attested again. */
async function vexNotAttested(reference: string, input: PublishInput): Promise<void> {
  if ((await scanVexFiles(join(dirname(input.sbomFile), VEX_DIR))).length === 0) return;
  input.log(`OpenVEX: ${reference} was signed by another identity (this machine did not build it), so it attests nothing`);
}
