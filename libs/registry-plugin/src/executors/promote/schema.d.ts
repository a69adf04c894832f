export interface PromoteExecutorSchema {
  from?: string;
  to?: string[] | string;
  toRegistry?: string;
  dryRun?: boolean;
}
