// The pull-secret use case owns its options; this is their name as the executor's schema.
export type { KubernetesManifestOptions as KubernetesManifestExecutorSchema } from '../../lib/deploy/kubernetes-manifest';
