/** The step a target of the image executor runs: `docker-build` and `scan` are its two targets. */
export type ImageStep = 'build' | 'scan';

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

export interface StepOption {
  step: ImageStep;
}

export type ImageExecutorSchema = StepOption & BuildOptions & ScanOptions;
