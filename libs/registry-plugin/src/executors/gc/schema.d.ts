export interface GcExecutorSchema {
  /** Only report what would be removed (NX_DRY_RUN does the same); the registry is not restarted. */
  dryRun?: boolean;
  /** Print the report (bytes before and after, verified images) as JSON. */
  json?: boolean;
}
