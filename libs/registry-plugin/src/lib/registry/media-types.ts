/** Media types of the OCI image spec and their Docker schema 2 equivalents. */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
/** OCI image spec 1.1: the config of an artifact that has none of its own (the two bytes `{}`). */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';

export const INDEX_MEDIA_TYPES: readonly string[] = [OCI_INDEX, DOCKER_MANIFEST_LIST];
export const MANIFEST_MEDIA_TYPES: readonly string[] = [OCI_MANIFEST, DOCKER_MANIFEST];
/** Layers stored as a plain tar, and the OCI compressed forms. */
export const UNCOMPRESSED_LAYER_MEDIA_TYPES: readonly string[] = [OCI_LAYER, DOCKER_LAYER];
export const COMPRESSED_LAYER_MEDIA_TYPES: readonly string[] = [OCI_LAYER_GZIP, OCI_LAYER_ZSTD];
/** What we send in `Accept` when fetching a manifest by tag or digest. */
export const ACCEPT_MANIFESTS = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ');

export const isIndexMediaType = (mediaType: string): boolean => INDEX_MEDIA_TYPES.includes(mediaType);
export const isManifestMediaType = (mediaType: string): boolean =>
  INDEX_MEDIA_TYPES.includes(mediaType) || MANIFEST_MEDIA_TYPES.includes(mediaType);

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}
