export interface GcExecutorSchema {
  dryRun?: boolean;
  json?: boolean;
}
