export interface VersionExecutorSchema {
  /** Print the decision as JSON instead of text. */
  json?: boolean;
}
