export interface DeployManifestExecutorSchema {
  /** Production compose file whose services are pinned, relative to the workspace root. */
  composeFile?: string;
  /** Override file to write, relative to the workspace root. */
  output?: string;
  /** Only pin these services (a list, or names separated by commas). */
  services?: string[] | string;
  /** Fail when an app service has no usable push record. */
  failOnMissing?: boolean;
  /** Refuse unless every pinned digest's signature verifies with signing.publicKey (or the local key pair's) and its scan did not block it. */
  requireSignature?: boolean;
  /** Refuse unless every pinned digest has SLSA v1 provenance that verifies with the same key. */
  requireProvenance?: boolean;
  /** With requireProvenance: the git repository the provenance must name as its source. */
  sourceRepository?: string;
  /** With requireProvenance: the exact builder id the provenance must name. */
  builderId?: string;
}
