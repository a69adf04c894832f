export interface CleanupExecutorSchema {
  apply?: boolean;
  repositories?: string[] | string;
  json?: boolean;
  journalDir?: string;
  concurrency?: number;
  composeFile?: string;
  deleteVia?: 'auto' | 'api' | 'storage';
  storageDir?: string;
}
