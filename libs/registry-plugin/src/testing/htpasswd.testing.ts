import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../lib/exec/exec';

/**
 * An htpasswd file for distribution's `auth: htpasswd:` scheme. distribution only accepts bcrypt
 * entries, so lines come from apache2-utils' `htpasswd -Bbn` (bcrypt, batch, print).
 */
export interface HtpasswdFixture {
  path: string;
  /** Top-level registry YAML (`extraConfig` for startTestRegistry). */
  yaml: string;
  /** Removes the file, and the folder made for it when the caller gave none. */
  remove(): Promise<void>;
}

export async function htpasswdLine(username: string, password: string): Promise<string> {
  // -C 4: the lowest bcrypt cost keeps tests fast; distribution checks any cost.
  const { stdout } = await exec('htpasswd', ['-Bbn', '-C', '4', username, password], { redact: [password] });
  return stdout.trim();
}

export async function writeHtpasswd(
  users: Record<string, string>,
  options: { dir?: string; realm?: string } = {},
): Promise<HtpasswdFixture> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'auren-htpasswd-')));
  const path = join(dir, 'htpasswd');
  const remove = () => rm(options.dir ? path : dir, { recursive: true, force: true });
  const lines = await Promise.all(Object.entries(users).map(([u, p]) => htpasswdLine(u, p))).catch(async (error: unknown) => {
    await remove();
    throw error;
  });
  await writeFile(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return { path, yaml: htpasswdYaml(path, options.realm), remove };
}

export function htpasswdYaml(path: string, realm = 'auren-test-registry'): string {
  return ['auth:', '  htpasswd:', `    realm: ${realm}`, `    path: ${path}`].join('\n');
}
