// The push use case owns its options; this is their name as the executor's schema.
export type { PushImageOptions as DockerPushExecutorSchema } from '../../lib/pipeline/push-image';
