/**
 * The executors' logger. It prints what `logger` of `@nx/devkit` prints (warnings in bold yellow,
 * errors in bold red when colour is on, verbose lines only with NX_VERBOSE_LOGGING=true, on
 * stderr) without loading `@nx/devkit` at run time: that import alone cost every task process,
 * and now the batch, ~0.15 s before its first task (bench/README.md, one-app).
 */

/** As Nx's colour library decides: NO_COLOR wins, then FORCE_COLOR (Nx sets it for its workers), then a terminal. */
function colourOn(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['NO_COLOR'] || process.argv.includes('--no-color')) return false;
  const forced = env['FORCE_COLOR'];
  if (forced !== undefined) return forced !== '0' && forced !== 'false';
  return Boolean(process.stdout.isTTY) && env['TERM'] !== 'dumb';
}

const paint = (open: number, text: string) => (colourOn() ? `\x1b[1m\x1b[${open}m${text}\x1b[39m\x1b[22m` : text);
const text = (value: unknown) => (value instanceof Error ? value.stack ?? value.message : String(value));

export const logger = {
  info: (message: string) => console.info(message),
  warn: (message: string) => console.warn(paint(33, message)),
  error: (message: unknown) => console.error(paint(31, text(message))),
  verbose: (message: string) => {
    if (process.env['NX_VERBOSE_LOGGING'] === 'true') console.warn(message);
  },
};
