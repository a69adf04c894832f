/**
 * Typed errors for unexpected failures. Expected outcomes (already-exists, not-found,
 * blocked-by-policy) are values, not exceptions; these are for everything else.
 * Every error carries a `hint` telling the user what to do next, and an exit code that the
 * single error boundary (`reportError`) maps to the process.
 */
export type ErrorKind =
  | 'config'
  | 'input'
  | 'registry'
  | 'auth'
  | 'exec'
  | 'scan'
  | 'policy'
  | 'git'
  | 'internal';

export class AurenError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  constructor(kind: ErrorKind, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AurenError';
    this.kind = kind;
    this.hint = hint;
  }
}

export const configError = (message: string, hint?: string) => new AurenError('config', message, hint);
export const inputError = (message: string, hint?: string) => new AurenError('input', message, hint);

/** Exit codes: 1 generic failure, 2 bad input or configuration, 3 blocked by policy. */
export function exitCodeFor(error: unknown): number {
  if (!(error instanceof AurenError)) return 1;
  switch (error.kind) {
    case 'config':
    case 'input':
      return 2;
    case 'policy':
      return 3;
    case 'registry':
    case 'auth':
    case 'exec':
    case 'scan':
    case 'git':
    case 'internal':
      return 1;
    default: {
      const unhandled: never = error.kind;
      return unhandled;
    }
  }
}

/** One line (plus hint) for the user; never a stack trace for expected failure kinds. */
export function formatError(error: unknown): string {
  if (error instanceof AurenError) {
    return error.hint ? `${error.message}\n  → ${error.hint}` : error.message;
  }
  if (error instanceof Error) return error.stack ?? error.message;
  return String(error);
}
