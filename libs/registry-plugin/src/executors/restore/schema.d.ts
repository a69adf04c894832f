export interface RestoreExecutorSchema {
  journal?: string;
  journalDir?: string;
  concurrency?: number;
  json?: boolean;
}
