import type { AurenConfig } from '../config/options';
import { projectRepository, repositoryPath } from '../config/repository';
import { releasedDigest, versionTagName, type GitContext } from '../git';
import type { RegistryClient } from '../registry/client';
import { registryImageSource } from '../registry/copy';
import { readConfig, tryParseManifest } from '../registry/image-graph';
import { formatPlatform } from '../registry/media-types';
import type { PushRecord, SupplyChainRecord } from '../reports/records';
import { attachedBundles, COSIGN_SIGN_PREDICATE, listReferrers, type AttachedBundle } from '../supply-chain/referrers';
import { LOCAL_SIGNING_DIR } from '../supply-chain/local-key';
import { SLSA_PROVENANCE_V1 } from '../supply-chain/provenance';
import { publicKeyHint } from '../supply-chain/verify';
import { CYCLONEDX_MEDIA_TYPE, scanFromAnnotations } from '../supply-chain/sbom';
import { validateTag } from '../tags/grammar';
import type { PushImageOptions } from './push-image';
import { resolveVersion } from './version';

export interface ReleaseProject {
  name: string;
  /** The project's root and the roots it depends on (input roots: the version's pathspecs). */
  inputRoots: string[];
  /** docker-push's options as the project graph resolved them. */
  pushOptions: PushImageOptions | undefined;
}

export type ReleaseState = { status: 'complete'; record: PushRecord } | { status: 'pending'; reason: string };

export interface ReleaseStateInput {
  workspaceRoot: string;
  project: ReleaseProject;
  config: AurenConfig;
  client: RegistryClient;
  git: GitContext;
}

const pending = (reason: string): ReleaseState => ({ status: 'pending', reason });

/**
 * Whether docker-push has anything left to do for a project at this commit, decided without
 * building, fetching or scanning: its version is unchanged since its release (the same decision
 * docker-push makes), the registry holds `v<version>` at the digest the release's git tag
 * recorded, and the digest carries what a run would otherwise attach here: the SBOM with the
 * verdict of the scan it was released with, and a signature unless signing is off. Anything
 * else, or any doubt, is "pending": the full pipeline then runs and decides.
 *
 * Digests make this safe to take from the registry: the tag's digest must equal the one git
 * recorded when the release was pushed, and the record written here names that digest. Whether
 * its signature is trusted is still the deploy gate's question, asked with a public key.
 */
export async function releaseState(input: ReleaseStateInput): Promise<ReleaseState> {
  const { workspaceRoot, project, config, client, git } = input;
  const options = project.pushOptions ?? {};
  // Tags other than the version's and the extra ones are the strategy's or the user's: the full run's.
  if (options.versioned === false || options.tags !== undefined || options.dryRun) {
    return pending('its docker-push options set tags, versioned: false or dryRun');
  }
  const { decision, version } = await resolveVersion(workspaceRoot, project, config, git);
  if (decision.bump !== 'none') return pending(decision.reason);

  const gitTag = versionTagName(project.name, version);
  const repository = repositoryPath(config, projectRepository(project.name, options));
  const reference = `${config.registry}/${repository}:v${version}`;
  const [recorded, head] = await Promise.all([releasedDigest(workspaceRoot, gitTag), client.manifestHead(repository, `v${version}`)]);
  if (!recorded) return pending(`the release tag ${gitTag} records no image digest`);
  if (head === 'not-found') return pending(`${reference} is not in the registry`);
  if (head.digest !== recorded) return pending(`${reference} names ${head.digest}, but ${gitTag} recorded ${recorded}`);
  // docker-push also keeps each extra tag (they may move) on an unchanged release.
  const extraTags = options.extraTags ?? [];
  extraTags.forEach(validateTag);
  for (const tag of extraTags) {
    const extra = await client.manifestHead(repository, tag);
    if (extra === 'not-found' || extra.digest !== recorded) return pending(`${config.registry}/${repository}:${tag} does not name ${recorded}`);
  }

  const [referrers, source] = await Promise.all([listReferrers(client, repository, recorded), registryImageSource(client, repository, recorded)]);
  const sbom = referrers.find((d) => d.artifactType === CYCLONEDX_MEDIA_TYPE);
  if (!sbom) return pending(`${reference} has no SBOM attached`);
  const scan = scanFromAnnotations(sbom.annotations);
  if (!scan) return pending(`the SBOM of ${reference} carries no pass or warn scan verdict (pushed unscanned, or before verdicts were recorded): the pipeline scans it here`);
  const ourHint = publicKeyHint(config.signing, workspaceRoot);
  const bundles = await attachedBundles(client, repository, recorded, { referrers, keyHints: ourHint !== undefined });
  const types = bundles.map((b) => b.predicateType);
  const off = config.signing.mode === 'off';
  if (!off && !types.includes(COSIGN_SIGN_PREDICATE)) return pending(`${reference} is not signed`);
  const signer = signerOf(bundles, ourHint, config.signing.mode);

  // The image's manifests (each checked against its digest): its size and platforms.
  const blobs = new Map(source.blobs.map((b) => [b.digest, b.size]));
  const size = [...source.manifests.map((m) => m.size), ...blobs.values()].reduce((sum, n) => sum + n, 0);
  const platforms = source.platforms.length ? source.platforms : await configPlatform(client, repository, source.manifests[0]?.body);
  const supplyChain: SupplyChainRecord = {
    sbom: { status: 'attached', detail: sbom.digest },
    signature: off ? { status: 'off', detail: 'signing: false' } : { status: 'signed', detail: signer },
    provenance: types.includes(SLSA_PROVENANCE_V1)
      ? { status: 'attested', detail: 'SLSA v1, at its release' }
      : { status: off ? 'off' : 'missing', detail: 'none attached at its release' },
  };
  return {
    status: 'complete',
    record: {
      schemaVersion: 1,
      project: project.name,
      registry: config.registry,
      repository,
      digest: recorded,
      tags: [...new Set([`v${version}`, ...extraTags])],
      version,
      size,
      platforms,
      scan,
      git: { sha: git.sha, branch: git.branch },
      blobs: { uploaded: 0, skipped: blobs.size, mounted: 0, bytesUploaded: 0 },
      pushedAt: new Date().toISOString(),
      dryRun: false,
      supplyChain,
    },
  };
}

/** Who signed, as far as a key hint tells; cosign, at the deploy gate, says whether it verifies. */
function signerOf(bundles: AttachedBundle[], ourHint: string | undefined, mode: AurenConfig['signing']['mode']): string {
  const unverified = 'at its release; not verified here, as nothing was pushed';
  if (ourHint === undefined) return `an identity this machine holds no public key of, ${unverified}`;
  if (!bundles.some((b) => b.predicateType === COSIGN_SIGN_PREDICATE && b.keyHint === ourHint)) return `another identity (by its key hint), ${unverified}`;
  return `${mode === 'local' ? `the local key pair (${LOCAL_SIGNING_DIR}/cosign.pub)` : "this workspace's key"} (by its key hint), ${unverified}`;
}

/** A one-platform image (a manifest, not an index) names its platform in its config only. */
async function configPlatform(client: RegistryClient, repository: string, body: Buffer | undefined): Promise<string[]> {
  const config = body ? tryParseManifest(body)?.config : undefined;
  if (!config) return [];
  const doc = await readConfig(client, repository, config.digest, { size: config.size });
  const { os, architecture, variant } = (doc ?? {}) as { os?: unknown; architecture?: unknown; variant?: unknown };
  if (typeof os !== 'string' || typeof architecture !== 'string') return [];
  return [formatPlatform({ os, architecture, ...(typeof variant === 'string' ? { variant } : {}) })];
}
