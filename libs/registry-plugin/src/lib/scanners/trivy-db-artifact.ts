import { sha256Digest } from '../registry/digest';
import { tryParseManifest } from '../registry/image-graph';
import { OCI_MANIFEST } from '../registry/media-types';
import type { RegistryClient } from '../registry/types';

/**
 * Trivy's vulnerability database as an OCI artifact, the way Trivy downloads it with
 * `--db-repository` (https://trivy.dev/latest/docs/advanced/air-gap/): one layer, a gzip'd tar
 * of `trivy.db` (bbolt) and `metadata.json`, named by the `org.opencontainers.image.title`
 * annotation; the tag is the DB schema version.
 *
 * Only what names and recognises the artifact lives here, apart from publishing and downloading
 * it (trivy-db.ts): the scan fingerprint, which runs for every scan task of every Nx command,
 * reads it without loading the registry client.
 */
export const TRIVY_DB_LAYER_MEDIA_TYPE = 'application/vnd.aquasec.trivy.db.layer.v1.tar+gzip';
export const TRIVY_DB_CONFIG_MEDIA_TYPE = 'application/vnd.aquasec.trivy.config.v1+json';
export const TRIVY_DB_SCHEMA_TAG = '2';
export const TRIVY_DB_UPSTREAM = 'ghcr.io/aquasecurity/trivy-db:2';
/** Where `nx run registry:trivy-db` publishes, under the namespace. */
export const TRIVY_DB_REPOSITORY = 'trivy-db';
const TITLE = 'org.opencontainers.image.title';
const CREATED = 'org.opencontainers.image.created';

/**
 * Repositories `scan` looks in, first match wins: the one `registry:trivy-db` publishes, then
 * where `registry:mirror --images=ghcr.io/aquasecurity/trivy-db:2` puts its copy.
 */
export function trivyDbRepositories(namespace: string): string[] {
  const prefix = namespace ? `${namespace}/` : '';
  return [`${prefix}${TRIVY_DB_REPOSITORY}`, `${prefix}mirror/aquasecurity/trivy-db`];
}

/** The database a registry serves: its manifest digest changes whenever its content (and UpdatedAt) does. */
export interface TrivyDbArtifact {
  registry: string;
  repository: string;
  digest: string;
  /** From the manifest's `org.opencontainers.image.created`, when the publisher set it. */
  updatedAt?: string;
}

/** What the search needs of a registry: a `RegistryClient` has it, and so has the fingerprint's plain-HTTP probe. */
export type ManifestReader = Pick<RegistryClient, 'registry' | 'manifestGet'>;

/**
 * The first Trivy DB among `repositories` on the registry, or `undefined` when there is none;
 * a failure to ask is thrown. A manifest that is not a Trivy DB (no DB layer) does not count.
 */
export async function searchTrivyDb(client: ManifestReader, repositories: readonly string[]): Promise<TrivyDbArtifact | undefined> {
  for (const repository of repositories) {
    const manifest = await client.manifestGet(repository, TRIVY_DB_SCHEMA_TAG);
    if (manifest === 'not-found') continue;
    const parsed = tryParseManifest(manifest.body, manifest.mediaType);
    if (!parsed || !parsed.layers.some((l) => l.mediaType === TRIVY_DB_LAYER_MEDIA_TYPE)) continue;
    const updatedAt = parsed.annotations[CREATED];
    return { registry: client.registry, repository, digest: manifest.digest, ...(updatedAt ? { updatedAt } : {}) };
  }
  return undefined;
}

/**
 * `searchTrivyDb`, where a registry that cannot be asked counts as having none: scanning then
 * falls back to Trivy's own cache, which is the right answer offline, and the scan says which
 * database it used.
 */
export async function findTrivyDb(client: ManifestReader, repositories: readonly string[]): Promise<TrivyDbArtifact | undefined> {
  return searchTrivyDb(client, repositories).catch(() => undefined);
}

/** The manifest Trivy expects; `created` carries UpdatedAt so a HEAD tells which database is served. */
export function trivyDbManifest(layer: Buffer, config: Buffer, updatedAt: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: TRIVY_DB_CONFIG_MEDIA_TYPE, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: TRIVY_DB_LAYER_MEDIA_TYPE, digest: sha256Digest(layer), size: layer.length, annotations: { [TITLE]: 'db.tar.gz' } }],
      annotations: { [CREATED]: updatedAt },
    }),
  );
}
