import type { AurenConfig } from '../../config/options';
import type { CheckResult } from './types';

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

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
