import type { Response } from 'undici';

export interface RetryOptions {
  /** Attempts per request, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Give up retrying once this much time has passed since the first attempt. */
  deadlineMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8_000, deadlineMs: 120_000 };

export function backoff(retry: RetryOptions, attempt: number): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  // "Full jitter": spreads retries of many clients hitting one sick registry.
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export function retryAfterMs(res: Response): number | undefined {
  const value = res.headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export const isRetryableStatus = (status: number): boolean => status === 429 || (status >= 500 && status !== 501 && status !== 505);
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
