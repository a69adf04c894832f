export interface KubernetesManifestExecutorSchema {
  /** Kubernetes namespace of the Secret. */
  namespace?: string;
  /** Name of the Secret (what pods list under imagePullSecrets). */
  name?: string;
  /** Manifest format: yaml (as doctl prints it) or json. */
  format?: 'yaml' | 'json';
  /** Write the manifest to this file (mode 0600) instead of stdout. */
  output?: string;
}
