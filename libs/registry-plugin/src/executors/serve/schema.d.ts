export interface ServeExecutorSchema {
  action?: 'run' | 'detach' | 'stop' | 'status';
  address?: string;
  dataDir?: string;
}
