// The login use case owns its options; this is their name as the executor's schema.
export type { LoginOptions as LoginExecutorSchema } from '../../lib/providers/login';
