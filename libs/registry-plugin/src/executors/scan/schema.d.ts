import type { ScannerName, Severity } from '../../lib/config/options';

export interface ScanExecutorSchema {
  scanner?: ScannerName;
  severity?: Severity[];
  ignoreUnfixed?: boolean;
  allowRootUser?: boolean;
}
