/**
 * A list option as users write it: an array (project.json, the CLI's repeated flag) or one
 * comma-separated string (an environment variable, `--tags a,b`). Items are trimmed and empty
 * ones dropped, so `"a, b,"` and `["a", " b"]` are the same list. Every list option is read here.
 */
export function splitList(value: readonly string[] | string | undefined | null): string[] {
  if (value === undefined || value === null) return [];
  return (typeof value === 'string' ? [value] : value)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}
