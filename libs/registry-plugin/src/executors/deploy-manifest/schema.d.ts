export interface DeployManifestExecutorSchema {
  /** Production compose file whose services are pinned, relative to the workspace root. */
  composeFile?: string;
  /** Override file to write, relative to the workspace root. */
  output?: string;
  /** Only pin these services (a list, or names separated by commas). */
  services?: string[] | string;
  /** Fail when an app service has no usable push record. */
  failOnMissing?: boolean;
  /** Refuse unless every pinned digest's signature verifies with signing.publicKey and its scan did not block it. */
  requireSignature?: boolean;
}
