import { inputError } from '../errors/errors';

/**
 * A provider repository name as `<first>/<rest>` (DigitalOcean's registry, ghcr.io's owner):
 * both parts non-empty, else an input error worded by the provider's adapter.
 */
export function splitFirstSegment(repository: string, what: string, hint: string): [first: string, rest: string] {
  const slash = repository.indexOf('/');
  if (slash <= 0 || slash === repository.length - 1) throw inputError(`"${repository}" is not a ${what} repository name`, hint);
  return [repository.slice(0, slash), repository.slice(slash + 1)];
}
