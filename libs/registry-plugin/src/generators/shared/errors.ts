import { AurenError, formatError } from '../../lib/errors/errors';

/**
 * Nx prints only an error's message for a failed generator, so the hint saying what to do next
 * would be lost: fold it into the message at this one boundary.
 */
export function withHints<A extends unknown[]>(generator: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await generator(...args);
    } catch (error) {
      if (error instanceof AurenError) throw new Error(formatError(error), { cause: error });
      throw error;
    }
  };
}
