export interface MirrorExecutorSchema {
  /** Images to mirror (a list, or references separated by commas); default: composeFile's images that have no build section. */
  images?: string[] | string;
  /** Compose file, relative to the workspace root, that gives the default image list. */
  composeFile?: string;
  /** Read every image from this registry (host[:port], same repository path) instead of its own. */
  sourceRegistry?: string;
  /** Print what would be copied and change nothing (NX_DRY_RUN does the same). */
  dryRun?: boolean;
}
