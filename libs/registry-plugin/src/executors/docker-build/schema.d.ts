export interface DockerBuildExecutorSchema {
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
