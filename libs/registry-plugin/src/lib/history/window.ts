import { inputError } from '../errors/errors';

/** A span of time ending now: `30m`, `24h`, `7d`, `2w`. */
export interface HistoryWindow {
  /** As written, for reports (`7d`). */
  spec: string;
  since: Date;
  until: Date;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

export function parseWindow(spec: string, now: Date = new Date()): HistoryWindow {
  const match = /^\s*(\d+)\s*([mhdw])\s*$/.exec(spec);
  if (!match || Number(match[1]) <= 0) {
    throw inputError(`invalid window "${spec}"`, 'Write a positive number and a unit: 30m, 24h, 7d or 2w.');
  }
  return { spec: `${Number(match[1])}${match[2]}`, since: new Date(now.getTime() - Number(match[1]) * UNITS[match[2]]), until: now };
}
