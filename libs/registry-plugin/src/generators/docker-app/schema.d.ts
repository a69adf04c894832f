export interface DockerAppGeneratorSchema {
  /** Project, folder and image repository name (OCI repository component grammar). */
  name: string;
  /** Parent folder of the new application, relative to the workspace root. */
  directory?: string;
  /** Port the service listens on inside the container. */
  port?: number;
  /** Extra Nx project tags, separated by commas. */
  tags?: string;
}
