// @auren-test-tools trivy (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * Multi-arch for real: the base image and the apps build for
 * linux/amd64 and linux/arm64 with buildah, the arm64 RUN steps under QEMU user emulation, and
 * the arm64 variants run: biometric-bridge imports its clients, auren-api imports FastAPI and
 * uvicorn, auren-nginx accepts its configuration. Everything is real: a copy of this workspace,
 * real Nx, buildah, a distribution registry on a free port, QEMU through binfmt_misc.
 *
 * The timings printed at the end are what a CI run pays for arm64 (`.ci/run` must stay under
 * 30 minutes); they are reported, never asserted.
 */
import { randomBytes } from 'node:crypto';
import { readFile, mkdtemp, rm, symlink } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import execa from 'execa';
import { startTestRegistry, type TestRegistry } from '../testing/registry-server.testing';
import { cloneWorkspace, type WorkspaceClone } from './workspace.testing';

const STEP = 40 * 60_000;
/**
 * arm64 under QEMU costs about 9 minutes on an idle 2-core machine (the arm64 root filesystem,
 * 200 s, then the apps' apt installs emulated); a fresh machine's CI run already takes ~26 of its
 * 30 minutes, so this file runs when AUREN_E2E_MULTIARCH=1 (`AUREN_E2E_MULTIARCH=1 npm test`, or
 * the release workflow's runners).
 */
const ENABLED = process.env.AUREN_E2E_MULTIARCH === '1';
const describeMultiArch = ENABLED ? describe : describe.skip;
const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const BINFMT = '/proc/sys/fs/binfmt_misc/qemu-aarch64';

let registry: TestRegistry;
let ws: WorkspaceClone;
let storage: string;
/** Lowercase links to OCI layouts (ociReference), removed at the end. */
const links: string[] = [];
const timings: Record<string, number> = {};

/** Why this machine cannot run arm64 programs, or undefined when it can. */
function qemuProblem(): string | undefined {
  if (arch() === 'arm64') return undefined;
  if (!existsSync(BINFMT)) return `${BINFMT} does not exist`;
  if (readFileSync(BINFMT, 'utf8').split('\n')[0] !== 'enabled') return `${BINFMT} is disabled`;
  return undefined;
}

function expectOk(result: { exitCode: number; all?: string }, what: string): void {
  if (result.exitCode !== 0) throw new Error(`${what} failed (${result.exitCode}):\n${(result.all ?? '').slice(-8000)}`);
}

async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } finally {
    timings[name] = Math.round((Date.now() - started) / 1000);
    // Straight to stderr, not through jest's buffered console: a long run shows its progress.
    process.stderr.write(`multi-arch: ${name} took ${timings[name]} s\n`);
  }
}

/** buildah in a storage root of its own, so the test neither sees nor leaves other images. */
function buildah(args: string[]) {
  return execa('buildah', ['--storage-driver', 'vfs', '--root', join(storage, 'root'), '--runroot', join(storage, 'run'), ...args], {
    reject: false,
    all: true,
  });
}

/** Runs `command` in the arm64 variant of `image` (a registry reference or an `oci:` layout). */
async function runArm64(image: string, command: string[], user?: string): Promise<{ architecture: string; exitCode: number; output: string }> {
  const from = await buildah(['from', '--quiet', '--arch', 'arm64', '--os', 'linux', '--tls-verify=false', image]);
  expectOk(from, `buildah from --arch arm64 ${image}`);
  const ctr = from.stdout.trim().split('\n').pop() as string;
  try {
    const inspect = await buildah(['inspect', '--format', '{{.OCIv1.Architecture}}', ctr]);
    const run = await buildah(['run', '--isolation', 'chroot', ...(user ? ['--user', user] : []), ctr, '--', ...command]);
    return { architecture: inspect.stdout.trim(), exitCode: run.exitCode, output: run.all ?? '' };
  } finally {
    await buildah(['rm', ctr]);
  }
}

/**
 * `oci:<dir>:latest` through a lowercase link: buildah names an image it takes from a layout after
 * the layout's path, and an image name with capitals (mkdtemp's) is refused.
 */
async function ociReference(layoutDir: string): Promise<string> {
  const link = join(tmpdir(), `auren-oci-${randomBytes(6).toString('hex')}`);
  await symlink(layoutDir, link);
  links.push(link);
  return `oci:${link}:latest`;
}

/** The platforms of an image index in the registry, as os/architecture. */
async function indexPlatforms(repo: string, tag: string): Promise<string[]> {
  const raw = await execa('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${repo}:${tag}`]);
  const index = JSON.parse(raw.stdout) as { mediaType?: string; manifests?: { platform?: { os: string; architecture: string } }[] };
  expect(index.manifests).toBeDefined();
  return (index.manifests ?? []).map((m) => `${m.platform?.os}/${m.platform?.architecture}`).sort();
}

beforeAll(async () => {
  if (!ENABLED) return;
  const problem = qemuProblem();
  if (problem) {
    throw new Error(
      `arm64 programs cannot run on this machine: ${problem}. QEMU user emulation is needed for linux/arm64 builds.\n` +
        `Fix: run 'bash tools/scripts/setup.sh' as root (installs qemu-user-static and registers its binfmt_misc handler), or by hand:\n` +
        `  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc\n` +
        `  cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register`,
    );
  }
  registry = await startTestRegistry();
  storage = await mkdtemp(join(tmpdir(), 'auren-multiarch-buildah-'));
  ws = await cloneWorkspace({ AUREN_REGISTRY: `${registry.host}/auren` });
  // AUREN_PLATFORMS (CI) would override every project's platforms: this test runs the committed ones.
  delete ws.env.AUREN_PLATFORMS;
}, 120_000);

afterAll(async () => {
  await Promise.all(links.map((link) => rm(link, { force: true })));
  await ws?.remove();
  await registry?.stop();
  if (storage) {
    await execa('buildah', ['--storage-driver', 'vfs', '--root', join(storage, 'root'), '--runroot', join(storage, 'run'), 'rm', '--all'], { reject: false });
    await rm(storage, { recursive: true, force: true });
  }
  // eslint-disable-next-line no-console
  if (ENABLED) console.log(`multi-arch timings (s): ${JSON.stringify(timings)}`);
});

describeMultiArch('linux/amd64 + linux/arm64 images, arm64 run under QEMU', () => {
  it('the base image is an index of both platforms, each from its own reproducible root filesystem', async () => {
    expectOk(await timed('base-image:rootfs (amd64+arm64)', () => ws.nx(['run', 'base-image:rootfs'])), 'nx run base-image:rootfs');
    const packages = JSON.parse(await readFile(join(ws.dir, 'dist/base-image/packages.json'), 'utf8')) as Record<string, Record<string, string>>;
    expect(Object.keys(packages).sort()).toEqual(PLATFORMS);
    for (const platform of PLATFORMS) expect(packages[platform]).toEqual(expect.objectContaining({ 'base-files': expect.any(String), 'ca-certificates': expect.any(String) }));

    expectOk(await timed('base-image:docker-push', () => ws.nx(['run', 'base-image:docker-push'])), 'nx run base-image:docker-push');
    expect(await indexPlatforms('auren/base-debian', 'bookworm')).toEqual(PLATFORMS);
    const base = await runArm64(`${registry.host}/auren/base-debian:bookworm`, ['sh', '-c', 'uname -m && cat /usr/share/auren/packages.lock']);
    expect(base).toEqual(expect.objectContaining({ architecture: 'arm64', exitCode: 0 }));
    expect(base.output.split('\n')[0]).toBe('aarch64');
    const lock = Object.entries(packages['linux/arm64']).map(([name, version]) => `${name}=${version}`);
    expect(base.output.trim().split('\n').slice(1)).toEqual(lock);
  }, STEP);

  it('biometric-bridge is pushed as an amd64 + arm64 index by default; its arm64 variant imports kafka, redis, psycopg2', async () => {
    const run = await timed('biometric-bridge:docker-push (amd64+arm64)', () => ws.nx(['run', 'biometric-bridge:docker-push']));
    expectOk(run, 'nx run biometric-bridge:docker-push');
    const record = JSON.parse(await readFile(join(ws.dir, 'dist/images/biometric-bridge/image.json'), 'utf8')) as { platforms: string[] };
    expect([...record.platforms].sort()).toEqual(PLATFORMS);
    expect(await indexPlatforms('auren/biometric-bridge', 'v0.1.0')).toEqual(PLATFORMS);

    const bridge = await runArm64(`${registry.host}/auren/biometric-bridge:v0.1.0`, [
      'python3', '-c', 'import platform, kafka, redis, psycopg2, biometric_bridge; print(platform.machine(), "clients ok")',
    ]);
    expect(bridge).toEqual(expect.objectContaining({ architecture: 'arm64', exitCode: 0 }));
    expect(bridge.output).toContain('aarch64 clients ok');
  }, STEP);

  it('auren-api and auren-nginx build for both platforms when asked, and their arm64 variants run', async () => {
    const checks: Record<string, { command: string[]; user?: string; expect: RegExp }> = {
      'auren-api': {
        command: ['python3', '-c', 'import platform, fastapi, uvicorn, auren.api.dashboard_api_minimal as m; print(platform.machine(), m.app.title)'],
        expect: /^aarch64 /m,
      },
      // The upstreams resolve on the deployment's network; here they are mapped to loopback.
      'auren-nginx': {
        command: ['sh', '-c', 'uname -m; printf "127.0.0.1 auren-api biometric-bridge\\n" >> /etc/hosts && nginx -t -c /etc/nginx/nginx.conf 2>&1'],
        user: '0:0',
        expect: /^aarch64$[\s\S]*syntax is ok[\s\S]*test is successful/m,
      },
    };
    for (const [app, check] of Object.entries(checks)) {
      const build = await timed(`${app}:docker-build (amd64+arm64)`, () => ws.nx(['run', `${app}:docker-build`, `--platforms=${PLATFORMS.join(',')}`]));
      expectOk(build, `nx run ${app}:docker-build --platforms=${PLATFORMS.join(',')}`);
      const record = JSON.parse(await readFile(join(ws.dir, 'dist/images', app, 'image.json'), 'utf8')) as { platforms: string[] };
      expect([...record.platforms].sort()).toEqual(PLATFORMS);
      const result = await runArm64(await ociReference(join(ws.dir, 'dist/images', app, 'oci')), check.command, check.user);
      expect({ app, architecture: result.architecture, exitCode: result.exitCode }).toEqual({ app, architecture: 'arm64', exitCode: 0 });
      expect(result.output).toMatch(check.expect);
    }
  }, STEP);
});
