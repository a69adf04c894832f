export interface TrivyDbExecutorSchema {
  from?: string;
  advisories?: string;
  updatedAt?: string;
  dryRun?: boolean;
}
