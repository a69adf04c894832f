export interface PromoteExecutorSchema {
  /** Tag or digest of the image to promote; default: the digest in dist/images/<project>/push.json. */
  from?: string;
  /** Tags to write (a list, or tags separated by commas); latest is written last. */
  to?: string[] | string;
  /** Copy into this registry instead, as host[:port][/namespace]. */
  toRegistry?: string;
  /** Print the plan and change nothing (NX_DRY_RUN does the same). */
  dryRun?: boolean;
}
