export interface MirrorExecutorSchema {
  images?: string[] | string;
  composeFile?: string;
  sourceRegistry?: string;
  dryRun?: boolean;
}
