import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AurenConfig } from '../config/options';
import { AurenError } from '../errors/errors';
import type { ResolvedCredentials } from '../registry/auth/credentials';
import type { RegistryClient } from '../registry/client';
import { attachArtifact, listReferrers, type IndexUpdate } from './referrers';
import { CYCLONEDX_MEDIA_TYPE, SBOM_FILE, summarizeSbom } from './sbom';
import { signImage } from './sign';
import { verifyImage } from './verify';

/**
 * After a successful push: the SBOM the scan made is attached to the pushed digest, then the
 * digest is signed. Both are keyed by digest, so running this again for the same image changes
 * nothing (the same SBOM is the same artifact manifest; a digest that already verifies with the
 * configured public key is not signed twice).
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
  credentials: ResolvedCredentials | undefined;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  warn: (line: string) => void;
}

export interface PublishOutcome {
  sbom: { status: 'attached'; digest: string; index: IndexUpdate } | { status: 'already-attached'; digest: string } | { status: 'missing'; reason: string };
  signature: { status: 'signed' | 'already-signed' | 'not-configured' };
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
  const existing = await listReferrers(client, repository, digest, CYCLONEDX_MEDIA_TYPE);
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
      annotations: { 'dev.auren.sbom.components': String(summary.components), 'dev.auren.sbom.tool': summary.tool },
    });
    sbom = { status: 'attached', digest: attached.digest, index: attached.index };
    input.log(`SBOM (CycloneDX ${summary.specVersion}, ${summary.components} components, ${summary.debianPackages} Debian packages) attached as ${attached.digest}`);
  } else {
    sbom = { status: 'missing', reason: `no ${SBOM_FILE} from the scan` };
    input.warn(`no SBOM attached: the scan made none (${input.sbomFile}); install trivy and run the scan again`);
  }

  const signing = config.signing;
  let signature: PublishOutcome['signature'];
  if (signing.mode === 'none') {
    signature = { status: 'not-configured' };
  } else {
    const common = {
      reference,
      registry: config.registry,
      insecureRegistries: config.insecureRegistries,
      caFile: config.caFile,
      signing,
      workspaceRoot: input.workspaceRoot,
      credentials: input.credentials,
      env: input.env,
    };
    const canVerify = signing.mode === 'keyless' || signing.publicKey !== undefined;
    const existing = canVerify ? await verifyImage(common) : undefined;
    if (existing?.status === 'verified') {
      signature = { status: 'already-signed' };
      input.log(`signature: ${reference} already verifies with the configured key; not signed again`);
    } else {
      await signImage(common);
      signature = { status: 'signed' };
      input.log(`signature: signed ${reference} with cosign (${signing.mode === 'key' ? 'key pair' : 'keyless'})`);
    }
  }
  return { sbom, signature };
}
