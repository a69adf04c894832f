export interface KubernetesManifestExecutorSchema {
  /** Kubernetes namespace of the Secret. */
  namespace?: string;
  /** Name of the Secret (what pods list under imagePullSecrets). */
  name?: string;
  /** Manifest format: yaml (as doctl prints it) or json. */
  format?: 'yaml' | 'json';
  /** File to write the manifest to (mode 0600). Default: dist/k8s/<namespace>-<name>.secret.yaml. */
  output?: string;
  /** Print the manifest to stdout instead of writing a file (Nx stores task output in its cache). */
  stdout?: boolean;
}
