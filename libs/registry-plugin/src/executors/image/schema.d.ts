/** The step a target of the image executor runs: `docker-build`, `scan` and `docker-push` are its three targets. */
export type ImageStep = 'build' | 'scan' | 'push';

export interface BuildOptions {
  dockerfile?: string;
  context?: string;
  builder?: 'auto' | 'buildah' | 'docker' | 'podman';
  platforms?: string[] | string;
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  target?: string;
  cacheFrom?: string[];
  cacheTo?: string[];
  verbose?: boolean;
  registryCache?: boolean;
  prebuild?: string[];
  rebuild?: boolean;
}

export interface ScanOptions {
  scanner?: 'trivy' | 'grype';
  severity?: Array<'UNKNOWN' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL'>;
  ignoreUnfixed?: boolean;
  allowRootUser?: boolean;
}

export interface PushOptions {
  repository?: string;
  extraTags?: string[];
  tags?: string[] | string;
  versioned?: boolean;
  requireScan?: boolean;
  dryRun?: boolean;
}

export type ImageExecutorSchema = { step: ImageStep } & BuildOptions & ScanOptions & PushOptions;
