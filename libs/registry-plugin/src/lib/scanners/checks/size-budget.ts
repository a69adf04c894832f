import type { AurenConfig } from '../../config/options';
import { formatBytes } from '../../reports/format';
import type { CheckResult } from './types';

export { formatBytes };

/**
 * Compressed size (what is pushed and pulled) against the budgets. A budget of 0 disables that
 * limit, so a team can keep warnings without ever failing, or the reverse.
 */
export function checkSizeBudget(compressedBytes: number, budgets: AurenConfig['budgets']): CheckResult {
  const size = formatBytes(compressedBytes);
  const details = { compressedBytes, warnBytes: budgets.warnBytes, failBytes: budgets.failBytes };
  const base = { id: 'size-budget' as const, title: 'Image size budget', details };
  const hint = 'Use a slimmer base image, a multi-stage build, and clean package caches in the same RUN step that creates them.';
  if (budgets.failBytes > 0 && compressedBytes > budgets.failBytes) {
    return { ...base, status: 'fail', message: `image is ${size} compressed, above the ${formatBytes(budgets.failBytes)} limit (budgets.failBytes)`, hint };
  }
  if (budgets.warnBytes > 0 && compressedBytes > budgets.warnBytes) {
    return { ...base, status: 'warn', message: `image is ${size} compressed, above the ${formatBytes(budgets.warnBytes)} warning budget (budgets.warnBytes)`, hint };
  }
  return { ...base, status: 'pass', message: `image is ${size} compressed, within budget` };
}
