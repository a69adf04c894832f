export interface RegistryGeneratorSchema {
  /** Project name. Default: registry. */
  name?: string;
  /** Project folder, relative to the workspace root. Default: tools/<name>. */
  directory?: string;
}
