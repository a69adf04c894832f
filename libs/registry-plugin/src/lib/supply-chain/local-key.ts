import { randomBytes } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AurenError, configError } from '../errors/errors';
import { exec as defaultExec } from '../exec/exec';
import { findCosign } from './cosign';
import type { ExecFn } from './sbom';

/**
 * The local key pair that signs pushes to the embedded registry when no signing is configured
 * (no key, no KMS, no keyless identity, and not `signing: false`).
 *
 * It lives in `<workspace>/.auren/signing/`: `cosign.key` (encrypted by cosign with the password),
 * `cosign.password` and `cosign.pub`, the folder 0700 and every file 0600, plus a `.gitignore`
 * of `*` so that git ignores the folder even in a workspace whose own .gitignore does not.
 *
 * The password is random and kept beside the key rather than empty. Anyone who can read the
 * folder has both, so it adds nothing against a reader of this account; what it does is make
 * `cosign.key` alone useless: the file most often copied by mistake (into a ticket, a backup,
 * an artifact upload, `git add -f`) is not a usable key without the other file.
 *
 * Two first pushes at once (Nx runs pushes in parallel) must not make two key pairs, or one of
 * them would sign with a key whose public half is gone. The pair is made complete in a private
 * temporary folder next to the final one and renamed into place: rename(2) onto a missing or
 * empty folder is atomic, and onto a folder with files fails (ENOTEMPTY/EEXIST), so exactly one
 * pair ever appears, whole, and the loser throws its own away and uses the winner's.
 */

export const LOCAL_SIGNING_DIR = '.auren/signing';

export interface LocalKeyPair {
  dir: string;
  /** cosign.key: the private key, encrypted with the password. */
  key: string;
  /** cosign.pub: what `cosign verify --key` and the deploy gate use. */
  publicKey: string;
  passwordFile: string;
}

export function localKeyPaths(workspaceRoot: string): LocalKeyPair {
  return keyPairIn(join(workspaceRoot, LOCAL_SIGNING_DIR));
}

function keyPairIn(dir: string): LocalKeyPair {
  return { dir, key: join(dir, 'cosign.key'), publicKey: join(dir, 'cosign.pub'), passwordFile: join(dir, 'cosign.password') };
}

const PRIVATE_FILES = ['key', 'passwordFile', 'publicKey'] as const;

type Inspection = { status: 'missing' } | { status: 'ok'; pair: LocalKeyPair } | { status: 'damaged'; reason: string; fix: string };

/** What is in .auren/signing/, checked: a folder of this user's, owner-only, with all three files. */
export function inspectLocalKeyPair(workspaceRoot: string): Inspection {
  const pair = localKeyPaths(workspaceRoot);
  const dir = lstatOrUndefined(pair.dir);
  if (!dir) return { status: 'missing' };
  const uid = process.getuid?.();
  if (!dir.isDirectory() || dir.isSymbolicLink()) {
    return { status: 'damaged', reason: `${LOCAL_SIGNING_DIR} is not a folder`, fix: `Remove ${LOCAL_SIGNING_DIR}; the next push makes a new key pair.` };
  }
  if (uid !== undefined && dir.uid !== uid) {
    return { status: 'damaged', reason: `${LOCAL_SIGNING_DIR} belongs to another user (uid ${dir.uid})`, fix: `Remove it, or run as its owner.` };
  }
  if ((dir.mode & 0o077) !== 0) {
    return { status: 'damaged', reason: `${LOCAL_SIGNING_DIR} is readable by others (mode ${octal(dir.mode)})`, fix: `chmod 700 ${LOCAL_SIGNING_DIR} (and 600 the files in it), or remove it to make a new key pair.` };
  }
  for (const which of PRIVATE_FILES) {
    const path = pair[which];
    const name = path.slice(pair.dir.length + 1);
    const file = lstatOrUndefined(path);
    if (!file) {
      return {
        status: 'damaged',
        reason: `${LOCAL_SIGNING_DIR}/${name} is missing`,
        fix: `Remove ${LOCAL_SIGNING_DIR} to make a new key pair on the next push (images signed with the old one then no longer verify), or restore the file.`,
      };
    }
    if (!file.isFile()) return { status: 'damaged', reason: `${LOCAL_SIGNING_DIR}/${name} is not a regular file`, fix: `Remove ${LOCAL_SIGNING_DIR}; the next push makes a new key pair.` };
    if (which !== 'publicKey' && (file.mode & 0o077) !== 0) {
      return { status: 'damaged', reason: `${LOCAL_SIGNING_DIR}/${name} is readable by others (mode ${octal(file.mode)})`, fix: `chmod 600 ${LOCAL_SIGNING_DIR}/${name}.` };
    }
  }
  return { status: 'ok', pair };
}

/** The key pair when it is there and sound; a damaged one is a config error that says what to do. */
export function readLocalKeyPair(workspaceRoot: string): LocalKeyPair | undefined {
  const found = inspectLocalKeyPair(workspaceRoot);
  switch (found.status) {
    case 'missing':
      return undefined;
    case 'ok':
      return found.pair;
    case 'damaged':
      throw configError(`the local signing key pair cannot be used: ${found.reason}`, found.fix);
    default: {
      const unhandled: never = found;
      throw new Error(`unhandled key pair state ${JSON.stringify(unhandled)}`);
    }
  }
}

export async function readLocalKeyPassword(pair: LocalKeyPair): Promise<string> {
  return (await readFile(pair.passwordFile, 'utf8')).trim();
}

export interface EnsureLocalKeyInput {
  workspaceRoot: string;
  env: NodeJS.ProcessEnv;
  exec?: ExecFn;
}

export type EnsureLocalKeyOutcome = { pair: LocalKeyPair; created: boolean };

/** The workspace's local key pair, made by `cosign generate-key-pair` on first use (see above). */
export async function ensureLocalKeyPair(input: EnsureLocalKeyInput): Promise<EnsureLocalKeyOutcome> {
  const existing = readLocalKeyPair(input.workspaceRoot);
  if (existing) return { pair: existing, created: false };
  const cosign = await findCosign(input.env);
  const final = localKeyPaths(input.workspaceRoot);
  const parent = join(final.dir, '..');
  await mkdir(parent, { recursive: true, mode: 0o700 });
  // mkdtemp makes the folder 0700; on the same file system as the final folder, for rename.
  const staging = await mkdtemp(join(parent, '.signing-'));
  try {
    const password = randomBytes(32).toString('base64url');
    const staged = keyPairIn(staging);
    await writeFile(staged.passwordFile, password + '\n', { mode: 0o600, flag: 'wx' });
    await writeFile(join(staging, '.gitignore'), '# The local signing key pair (auren registry plugin): never in git.\n*\n', { mode: 0o600, flag: 'wx' });
    const run = input.exec ?? defaultExec;
    // The password goes through the environment, never argv, and is redacted from any error.
    await run(cosign, ['generate-key-pair'], { cwd: staging, env: { ...input.env, COSIGN_PASSWORD: password }, redact: [password] }).catch((error: unknown) => {
      throw new AurenError('exec', `cosign could not make the local signing key pair: ${(error as Error).message}`, 'Check that cosign v3 runs (cosign version), or configure signing.key in nx.json.', { cause: error });
    });
    for (const file of [staged.key, staged.publicKey, staged.passwordFile, join(staging, '.gitignore')]) await chmod(file, 0o600);
    await chmod(staging, 0o700);
    try {
      await rename(staging, final.dir);
      return { pair: readLocalKeyPair(input.workspaceRoot) ?? final, created: true };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      // Another push made the pair first: use it.
      const theirs = readLocalKeyPair(input.workspaceRoot);
      if (!theirs) throw error;
      return { pair: theirs, created: false };
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(3, '0');
