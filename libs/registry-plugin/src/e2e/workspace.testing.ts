import { appendFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import execa from 'execa';

/**
 * A real copy of this workspace in a temporary folder, with its own git history, driven by real
 * Nx commands. node_modules is shared by a symlink; the Nx cache is shared too, so the Debian
 * root filesystem (debootstrap) is made once per machine rather than once per test.
 */
export const WORKSPACE_ROOT = resolve(__dirname, '../../../..');
const IMPORT_DATE = '2026-01-01T00:00:00Z';

// ECMA-48 CSI sequences (colours, cursor movement).
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
export const stripAnsi = (text: string): string => text.replace(ANSI, '');

export interface WorkspaceClone {
  dir: string;
  env: NodeJS.ProcessEnv;
  git(...args: string[]): Promise<string>;
  nx(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<execa.ExecaReturnValue<string> & { all: string }>;
  commit(message: string, files: Record<string, string>): Promise<string>;
  remove(): Promise<void>;
}

export async function cloneWorkspace(env: NodeJS.ProcessEnv): Promise<WorkspaceClone> {
  const dir = await mkdtemp(join(tmpdir(), 'auren-ws-'));
  const { stdout } = await execa('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: WORKSPACE_ROOT });
  const files = stdout.split('\0').filter((f) => f && !f.startsWith('node_modules/'));
  for (const file of files) {
    await cp(join(WORKSPACE_ROOT, file), join(dir, file), { recursive: false, errorOnExist: false }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error; // deleted but not yet committed
    });
  }
  await symlink(join(WORKSPACE_ROOT, 'node_modules'), join(dir, 'node_modules'));
  const fullEnv: NodeJS.ProcessEnv = {
    ...process.env,
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_CACHE_DIRECTORY: join(WORKSPACE_ROOT, '.nx', 'cache'),
    NX_TUI: 'false',
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    GIT_AUTHOR_NAME: 'AUREN CI',
    GIT_AUTHOR_EMAIL: 'ci@auren.invalid',
    GIT_COMMITTER_NAME: 'AUREN CI',
    GIT_COMMITTER_EMAIL: 'ci@auren.invalid',
    // The real scanner and clients at their pinned versions (setup.sh --test-tools), never stand-ins.
    PATH: `${join(WORKSPACE_ROOT, 'tools', '.bin')}:${process.env.PATH}`,
    // Trivy's database and layer cache of this clone only (tmp/ is git-ignored): a database
    // another test or a user left in ~/.cache/trivy must not decide this clone's scans.
    TRIVY_CACHE_DIR: join(dir, 'tmp', 'trivy-cache'),
    // One platform unless a test asks for more: arm64 under QEMU costs minutes per build, and
    // e2e/multi-arch.spec.ts (which removes this) is the test of the two-platform defaults.
    AUREN_PLATFORMS: 'linux/amd64',
    ...env,
  };
  // Variables of a surrounding CI run must not decide this clone's branch.
  for (const key of ['GITHUB_REF_NAME', 'GITHUB_HEAD_REF', 'GITHUB_EVENT_NAME', 'AUREN_BRANCH', 'NX_DRY_RUN']) delete fullEnv[key];
  const ws = openWorkspace(dir, fullEnv);
  await ws.git('init', '-q', '-b', 'main');
  await ws.git('add', '-A');
  // A fixed date makes the import commit the same in every clone of the same tree: images label
  // their project's last commit, so builds key on it, and clones then share the machine's Nx cache
  // (the base image's root filesystem is made once, not once per test file).
  await execa('git', ['commit', '-q', '-m', 'chore: import the workspace'], {
    cwd: dir,
    env: { ...fullEnv, GIT_AUTHOR_DATE: IMPORT_DATE, GIT_COMMITTER_DATE: IMPORT_DATE },
  });
  return ws;
}

/**
 * `git clone` of another clone (its commits and release tags, nothing else: a second machine) on
 * `env` over what the first machine had. The first clone committed its node_modules symlink
 * (`node_modules/` in .gitignore matches folders only), so the new one has the link too.
 */
export async function cloneClone(from: WorkspaceClone, env: NodeJS.ProcessEnv, inherited: NodeJS.ProcessEnv = from.env): Promise<WorkspaceClone> {
  const dir = await mkdtemp(join(tmpdir(), 'auren-machine-'));
  await execa('git', ['clone', '-q', from.dir, dir]);
  await symlink(join(WORKSPACE_ROOT, 'node_modules'), join(dir, 'node_modules')).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return openWorkspace(dir, { ...inherited, ...env });
}

/** Git, Nx and commits in the workspace at `dir`, every command with `fullEnv`. */
function openWorkspace(dir: string, fullEnv: NodeJS.ProcessEnv): WorkspaceClone {
  const git = async (...args: string[]) => (await execa('git', args, { cwd: dir, env: fullEnv })).stdout;
  return {
    dir,
    env: fullEnv,
    git,
    async nx(args, extraEnv = {}) {
      // Generators take no --outputStyle; run-style commands print plainly with it.
      const result = await execa('npx', ['nx', ...args, ...(['g', 'generate', 'show'].includes(args[0]) ? [] : ['--outputStyle=static'])], {
        cwd: dir,
        env: { ...fullEnv, ...extraEnv },
        reject: false,
        all: true,
      });
      // Under CI=true Nx colours its output whatever the terminal; assertions read plain text.
      return { ...result, all: stripAnsi(result.all ?? ''), stdout: stripAnsi(result.stdout) };
    },
    async commit(message, changes) {
      for (const [file, content] of Object.entries(changes)) {
        const path = join(dir, file);
        await mkdir(dirname(path), { recursive: true });
        await appendFile(path, content);
      }
      await git('add', '-A');
      await git('commit', '-q', '-m', message);
      return (await git('rev-parse', 'HEAD')).trim();
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * The whole default mission on a clone: the fixture vulnerability database (tools/trivy-db)
 * published into the registry, where every scan reads it, and its blocking findings accepted in
 * nx.json's scan.ignore so the gate passes (committed: a second machine cloning this one has the
 * same policy). Signing, SBOM and provenance need nothing: they are on by default for a loopback
 * registry, with the key pair the plugin makes in .auren/signing/. Returns the accepted ids.
 */
export async function enableMission(ws: WorkspaceClone, why = 'a fixture finding accepted so the gate passes'): Promise<string[]> {
  const published = await ws.nx(['run', 'registry:trivy-db']);
  if (published.exitCode !== 0) throw new Error(`nx run registry:trivy-db failed (${published.exitCode}):\n${published.all.slice(-6000)}`);
  const nxJsonPath = join(ws.dir, 'nx.json');
  const nxJson = JSON.parse(await readFile(nxJsonPath, 'utf8')) as { plugins: Array<string | { plugin: string; options: { scan: { severity: string[]; ignore?: unknown[] } } }> };
  const plugin = nxJson.plugins.find((p) => typeof p !== 'string' && p.plugin === '@auren/registry-plugin');
  if (!plugin || typeof plugin === 'string') throw new Error('nx.json has no @auren/registry-plugin entry with options');
  const scan = plugin.options.scan;
  const { advisories } = JSON.parse(await readFile(join(ws.dir, 'tools/trivy-db/advisories.json'), 'utf8')) as { advisories: Array<{ id: string; severity: string }> };
  const accepted = advisories.filter((a) => scan.severity.includes(a.severity)).map((a) => ({ id: a.id, reason: why }));
  scan.ignore = [...(scan.ignore ?? []), ...accepted];
  await writeFile(nxJsonPath, `${JSON.stringify(nxJson, null, 2)}\n`);
  await ws.git('add', 'nx.json');
  await ws.git('commit', '-q', '-m', 'chore: accept the fixture findings');
  return accepted.map((a) => a.id);
}
