// The deploy-manifest use case owns its options; this is their name as the executor's schema.
export type { DeployManifestOptions as DeployManifestExecutorSchema } from '../../lib/deploy/deploy-manifest';
