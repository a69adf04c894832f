import execa from 'execa';
import { AurenError } from '../errors/errors';
import { redactText } from '../errors/redact';

/**
 * The one place that spawns processes. Commands are argv arrays, never shell strings.
 * Output can be streamed to the user while it is also captured; on failure the error names
 * the command, the exit code and the last lines of stderr.
 */
export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Stream the child's stdout/stderr to ours while capturing it. */
  stream?: boolean;
  /** Treat these exit codes as success (the caller inspects `exitCode`). */
  okExitCodes?: number[];
  timeoutMs?: number;
  /** Strings that must never reach an error message or log (tokens, passwords). */
  redact?: string[];
}

export interface ExecResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

const TAIL_LINES = 15;

export { redactText };

export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * AUREN_TRACE=1 prints, on stderr, each command with its duration, and each executor's start-up
 * and run time: where a task's seconds go, without a profiler.
 */
export function trace(what: string, startedMs: number): void {
  if (process.env['AUREN_TRACE'] !== '1') return;
  const shown = what.length > 160 ? `${what.slice(0, 160)}…` : what;
  process.stderr.write(`auren-trace: ${(performance.now() - startedMs).toFixed(0).padStart(5)} ms ${shown}\n`);
}

export async function exec(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const redact = options.redact ?? [];
  const command = redactText(formatCommand(file, args), redact);
  const started = performance.now();
  const child = execa(file, [...args], {
    cwd: options.cwd,
    env: options.env,
    extendEnv: true,
    input: options.input,
    reject: false,
    timeout: options.timeoutMs,
    stripFinalNewline: false,
    buffer: true,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (options.stream) {
    child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(redactText(chunk.toString(), redact)));
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(redactText(chunk.toString(), redact)));
  }
  const result = await child;
  trace(command, started);
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (result.failed && (result.exitCode === undefined || result.exitCode === null)) {
    const reason = result.timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : (result as { originalMessage?: string; shortMessage?: string }).originalMessage ?? (result as { shortMessage?: string }).shortMessage ?? result.stderr;
    const notFound = /ENOENT/.test(String(reason));
    throw new AurenError(
      'exec',
      `\`${command}\` could not run: ${redactText(String(reason), redact)}`,
      notFound ? `Install \`${file}\` (see tools/scripts/setup.sh) or put it on PATH.` : undefined,
    );
  }
  const exitCode = result.exitCode ?? 0;
  const ok = exitCode === 0 || (options.okExitCodes ?? []).includes(exitCode);
  if (!ok) {
    const tail = redactText(stderr || stdout, redact).trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
    throw new AurenError('exec', `\`${command}\` exited with code ${exitCode}${tail ? `:\n${tail}` : ''}`);
  }
  return { command, exitCode, stdout, stderr };
}

/** Absolute path of an executable on PATH, or undefined. */
export async function which(file: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const { access, constants } = await import('node:fs/promises');
  const { delimiter, join, isAbsolute } = await import('node:path');
  if (isAbsolute(file)) {
    return access(file, constants.X_OK).then(() => file, () => undefined);
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, file);
    const found = await access(candidate, constants.X_OK).then(() => true, () => false);
    if (found) return candidate;
  }
  return undefined;
}
