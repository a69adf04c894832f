export interface TrivyDbExecutorSchema {
  /** Mirror this database (e.g. ghcr.io/aquasecurity/trivy-db:2) byte for byte instead of building one. */
  from?: string;
  /** Fixture advisories to build the database from, relative to the workspace root. */
  advisories?: string;
  /** UpdatedAt (RFC 3339) written into the built database's metadata.json; default: the advisories'. */
  updatedAt?: string;
  /** Say what would be published and change nothing (NX_DRY_RUN does the same). */
  dryRun?: boolean;
}
