export interface MonitorExecutorSchema {
  format?: 'text' | 'json' | 'markdown' | 'prometheus' | 'html';
  output?: string;
  window?: string;
  concurrency?: number;
}
