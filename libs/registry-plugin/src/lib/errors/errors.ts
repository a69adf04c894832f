import { redactSecrets } from './redact';

/**
 * Typed errors for unexpected failures. Expected outcomes (already-exists, not-found,
 * blocked-by-policy) are values, not exceptions; these are for everything else.
 * Every error carries a `hint` telling the user what to do next, and a kind that `exitCodeFor`
 * maps to the process's exit code; `formatError` is the one place that turns an error into text.
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

export const CREDENTIALS_IN_ADDRESS =
  'registry address contains credentials; put them in AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD (or a docker credential helper)';

/**
 * An address or reference written with `user:password@`: refused before any use, showing it
 * with the userinfo as `***` (`shown`, already redacted by the caller), so neither the message
 * nor its stack ever holds the secret.
 */
export function credentialsInAddressError(shown: string, origin: string | undefined, kind: 'config' | 'input' = 'config'): AurenError {
  return new AurenError(
    kind,
    `${CREDENTIALS_IN_ADDRESS}: "${shown}"${origin ? ` (from ${origin})` : ''}`,
    'Write the address as host[:port][/namespace] and give the user and password through the environment, `auren-registry login` or docker\'s config.json; they are never printed.',
  );
}

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

/**
 * One line (plus hint) for the user; never a stack trace for expected failure kinds. This is
 * where every error becomes text (the CLI's and the executors' single boundary), so it is also
 * where secrets are taken out: the values of the environment's credential variables and any
 * `user:password@` in an address, whatever layer put them in the message or the stack.
 */
export function formatError(error: unknown, env: NodeJS.ProcessEnv = process.env): string {
  let text: string;
  if (error instanceof AurenError) text = error.hint ? `${error.message}\n  → ${error.hint}` : error.message;
  else if (error instanceof Error) text = error.stack ?? error.message;
  else text = String(error);
  return redactSecrets(text, env);
}
