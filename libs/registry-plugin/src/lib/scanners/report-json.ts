import { InvalidReportError } from './types';

/** Shared by the scanner adapters: a scanner's JSON output is untrusted until each field is checked. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `what` names the output (`trivy`, `grype version`) in the error. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidReportError(`${what} output is not JSON (${(error as Error).message})`);
  }
}
