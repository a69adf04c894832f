export interface MonitorExecutorSchema {
  /** Output: text table, JSON, Markdown, Prometheus text format or a self-contained HTML report. */
  format?: 'text' | 'json' | 'markdown' | 'prometheus' | 'html';
  /** Write the report to this file (relative to the workspace root) instead of printing it. */
  output?: string;
  /** Push-history window for the success rate, e.g. 24h, 7d, 2w; over nx.json's monitor.window. */
  window?: string;
  /** Registry requests in flight at once; over nx.json's monitor.concurrency. */
  concurrency?: number;
}
