// The restore use case owns its options; this is their name as the executor's schema.
export type { RestoreOptions as RestoreExecutorSchema } from '../../lib/retention/run';
