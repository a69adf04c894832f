// @auren-test-tools cosign (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
import { readdirSync, statSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, which, type ExecOptions } from '../exec/exec';
import { ensureLocalKeyPair, LOCAL_SIGNING_DIR, localKeyPaths, readLocalKeyPair, readLocalKeyPassword } from './local-key';

/**
 * The local key pair for the embedded registry, with the real cosign. Made
 * once (two pushes at once make one pair), owner-only, out of git, and its password is never
 * on a command line or in any output.
 */

describe('the local signing key pair', () => {
  let root: string;
  const seen: string[] = [];
  /** The real exec, recording every argv and every output, to look for the password in them. */
  const recordingExec = async (file: string, args: readonly string[], options?: ExecOptions) => {
    seen.push([file, ...args].join(' '));
    const result = await exec(file, args, options);
    seen.push(result.stdout, result.stderr);
    return result;
  };

  beforeAll(async () => {
    if (!(await which('cosign'))) throw new Error('cosign is not on PATH (tools/.bin): this test needs the real one');
  });
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'auren-local-key-'));
    seen.length = 0;
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('two first pushes at once make one key pair, owner-only', async () => {
    const env = { ...process.env, COSIGN_PASSWORD: undefined };
    const [a, b] = await Promise.all([
      ensureLocalKeyPair({ workspaceRoot: root, env, exec: recordingExec }),
      ensureLocalKeyPair({ workspaceRoot: root, env, exec: recordingExec }),
    ]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(a.pair).toEqual(b.pair);
    const pair = localKeyPaths(root);
    // Both callers see the one pair on disk; no staging folder is left behind.
    expect(readdirSync(join(root, '.auren')).sort()).toEqual(['signing']);
    expect(readdirSync(pair.dir).sort()).toEqual(['.gitignore', 'cosign.key', 'cosign.password', 'cosign.pub']);
    expect(statSync(pair.dir).mode & 0o777).toBe(0o700);
    for (const file of readdirSync(pair.dir)) expect(statSync(join(pair.dir, file)).mode & 0o777).toBe(0o600);
    // The key is encrypted: cosign's own format, with a password of 256 random bits.
    expect(await readFile(pair.key, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----/);
    const password = await readLocalKeyPassword(pair);
    expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Two cosign runs (each caller made a pair in its own staging folder), and the password in none of their argv or output.
    expect(seen.filter((s) => s.includes('generate-key-pair'))).toHaveLength(2);
    for (const text of seen) expect(text).not.toContain(password);

    // A third call finds it and makes nothing.
    seen.length = 0;
    await expect(ensureLocalKeyPair({ workspaceRoot: root, env, exec: recordingExec })).resolves.toEqual({ pair, created: false });
    expect(seen).toEqual([]);
  }, 60_000);

  it('stays out of git even where the workspace does not ignore .auren/', async () => {
    await exec('git', ['init', '-q'], { cwd: root });
    await ensureLocalKeyPair({ workspaceRoot: root, env: process.env });
    const status = await exec('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: root });
    expect(status.stdout).toBe('');
    const ignored = await exec('git', ['check-ignore', `${LOCAL_SIGNING_DIR}/cosign.key`, `${LOCAL_SIGNING_DIR}/cosign.password`], { cwd: root });
    expect(ignored.stdout.trim().split('\n')).toHaveLength(2);
  }, 60_000);

  it('refuses a key pair others can read, or one missing a file, saying what to do', async () => {
    const { pair } = await ensureLocalKeyPair({ workspaceRoot: root, env: process.env });
    await chmod(pair.key, 0o644);
    expect(() => readLocalKeyPair(root)).toThrow(/\.auren\/signing\/cosign\.key is readable by others \(mode 644\)/);
    await chmod(pair.key, 0o600);
    await chmod(pair.dir, 0o755);
    expect(() => readLocalKeyPair(root)).toThrow(/\.auren\/signing is readable by others/);
    await chmod(pair.dir, 0o700);
    await unlink(pair.passwordFile);
    const error = (() => {
      try {
        readLocalKeyPair(root);
      } catch (e) {
        return e as Error & { hint?: string };
      }
      return undefined;
    })();
    expect(error?.message).toContain('.auren/signing/cosign.password is missing');
    expect(error?.hint).toContain(`Remove ${LOCAL_SIGNING_DIR} to make a new key pair`);
    // Nothing is made over a damaged pair: the next push fails the same way until someone decides.
    await expect(ensureLocalKeyPair({ workspaceRoot: root, env: process.env })).rejects.toThrow(/cosign.password is missing/);
  }, 60_000);

  it('refuses a signing folder that is a symlink to somewhere else', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'auren-local-key-elsewhere-'));
    try {
      await ensureLocalKeyPair({ workspaceRoot: elsewhere, env: process.env });
      await exec('mkdir', ['-p', join(root, '.auren')]);
      await exec('ln', ['-s', join(elsewhere, LOCAL_SIGNING_DIR), join(root, LOCAL_SIGNING_DIR)]);
      expect(() => readLocalKeyPair(root)).toThrow(/is not a folder/);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  }, 60_000);
});
