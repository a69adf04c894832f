export interface DockerPushExecutorSchema {
  repository?: string;
  extraTags?: string[];
  tags?: string[] | string;
  versioned?: boolean;
  requireScan?: boolean;
  dryRun?: boolean;
}
