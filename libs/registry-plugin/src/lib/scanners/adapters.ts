import type { ScannerName } from '../config/options';
import type { ScannerAdapter } from './types';
import { trivyAdapter } from './trivy';
import { grypeAdapter } from './grype';

export function createScanner(name: ScannerName): ScannerAdapter {
  switch (name) {
    case 'trivy':
      return trivyAdapter;
    case 'grype':
      return grypeAdapter;
    default: {
      const unhandled: never = name;
      throw new Error(`unknown scanner ${String(unhandled)}`);
    }
  }
}

export const SCANNER_NAMES: readonly ScannerName[] = ['trivy', 'grype'];
