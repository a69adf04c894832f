export interface BaseImageGeneratorSchema {
  /** Project name. Default: base-image. */
  name?: string;
  /** Project folder, relative to the workspace root. Default: tools/<name>. */
  directory?: string;
  /** Repository below the namespace the image is pushed to. Default: base-debian. */
  repository?: string;
  /** Platforms, separated by commas. Default: linux/amd64,linux/arm64. */
  platforms?: string;
  /** Extra Debian packages, separated by commas. Default: ca-certificates. */
  packages?: string;
}
