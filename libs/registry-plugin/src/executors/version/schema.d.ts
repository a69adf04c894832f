export interface VersionExecutorSchema {
  json?: boolean;
}
