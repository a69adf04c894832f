// The cleanup use case owns its options; this is their name as the executor's schema.
export type { CleanupOptions as CleanupExecutorSchema } from '../../lib/retention/run';
