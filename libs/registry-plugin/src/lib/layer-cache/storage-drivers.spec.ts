/**
 * A rebuild gives the released digest whatever storage driver the builder uses: provenance is
 * only worth what a rebuild confirms. biometric-bridge is built twice from the
 * same inputs, each time like a clean machine: its own empty buildah storage root and its own
 * empty layer cache, once with overlay and once with vfs. Real buildah, the real in-house Debian
 * base (tools/base-image, made with mmdebstrap and kept under ~/.cache/auren/test-rootfs between
 * runs), a real distribution registry serving it.
 *
 * Before layers were canonicalised at export, overlay's install layer carried `run`, `tmp`,
 * `var/cache/debconf/*`, `var/cache/ldconfig`, `var/lib/dpkg/lock-frontend` and the user layer
 * `etc/.pwd.lock`, which vfs left out; the two digests differed.
 *
 * amd64 only by default; AUREN_E2E_MULTIARCH=1 also builds arm64 (its RUN steps under QEMU, as
 * e2e/multi-arch.spec.ts does; several minutes more).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { arch, homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../../testing/registry-server.testing';
import { buildahBuilder, globalArgs } from '../builders/buildah';
import { exec } from '../exec/exec';
import { LAYER_EPOCH } from '../pipeline/build';
import { listLayer } from './canonical-layer';
import { createLayerCache } from './layer-cache';

const WORKSPACE = resolve(__dirname, '../../../../..');
const DRIVERS = ['overlay', 'vfs'] as const;
type Driver = (typeof DRIVERS)[number];
const BINFMT = '/proc/sys/fs/binfmt_misc/qemu-aarch64';
const ARM64 = process.env.AUREN_E2E_MULTIARCH === '1';
const PLATFORMS = ARM64 ? ['linux/amd64', 'linux/arm64'] : ['linux/amd64'];
const ROOTFS_CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'auren', 'test-rootfs');

/** Why this machine cannot run arm64 programs, or undefined when it can. */
function qemuProblem(): string | undefined {
  if (arch() === 'arm64') return undefined;
  if (!existsSync(BINFMT)) return `${BINFMT} does not exist (run tools/scripts/setup.sh as root to register qemu-user-static)`;
  if (readFileSync(BINFMT, 'utf8').split('\n')[0] !== 'enabled') return `${BINFMT} is disabled`;
  return undefined;
}

function progress(what: string, started: number): void {
  // Straight to stderr, not through jest's buffered console: a long run shows its progress.
  process.stderr.write(`storage-drivers: ${what} took ${Math.round((Date.now() - started) / 1000)} s\n`);
}

interface Built {
  digest: string;
  /** Per layer: every entry as `path type mode uid:gid size`, for a readable difference. */
  layers: string[][];
}

async function readImage(layoutDir: string, scratch: string): Promise<Built> {
  const blob = (digest: string) => join(layoutDir, 'blobs', 'sha256', digest.slice(7));
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8'));
  const digest: string = index.manifests[0].digest;
  const manifest = JSON.parse(await readFile(blob(digest), 'utf8'));
  const layers: string[][] = [];
  for (const layer of manifest.layers) {
    const entries = await listLayer(blob(layer.digest), scratch);
    layers.push(entries.map((e) => `${e.path} ${e.type} ${e.mode.toString(8)} ${e.uid}:${e.gid} ${e.size}`).sort());
  }
  return { digest, layers };
}

/** Entries one build's layer has and the other's has not, per layer (empty when the layers agree). */
function layerDifferences(a: Built, b: Built): Array<{ layer: number; onlyOverlay: string[]; onlyVfs: string[] }> {
  const out: Array<{ layer: number; onlyOverlay: string[]; onlyVfs: string[] }> = [];
  for (let i = 0; i < Math.max(a.layers.length, b.layers.length); i++) {
    const sa = new Set(a.layers[i] ?? []);
    const sb = new Set(b.layers[i] ?? []);
    const onlyOverlay = [...sa].filter((x) => !sb.has(x));
    const onlyVfs = [...sb].filter((x) => !sa.has(x));
    if (onlyOverlay.length || onlyVfs.length) out.push({ layer: i, onlyOverlay: onlyOverlay.slice(0, 30), onlyVfs: onlyVfs.slice(0, 30) });
  }
  return out;
}

describe('the same build on overlay and on vfs storage (real buildah, real base image)', () => {
  let work: string;
  let registry: TestRegistry;
  const roots: Array<{ driver: Driver; root: string }> = [];
  const envFor = (driver: Driver, root: string): NodeJS.ProcessEnv => ({ ...process.env, STORAGE_DRIVER: driver, AUREN_BUILDAH_ROOT: root });

  beforeAll(async () => {
    if (ARM64) {
      const problem = qemuProblem();
      if (problem) throw new Error(`AUREN_E2E_MULTIARCH=1 needs arm64 emulation: ${problem}`);
    }
    work = await mkdtemp(join(tmpdir(), 'auren-storage-drivers-'));
    registry = await startTestRegistry();
  });
  afterAll(async () => {
    for (const { driver, root } of roots) {
      const g = globalArgs(envFor(driver, root));
      await exec('buildah', [...g, 'rm', '--all'], { okExitCodes: [1, 125] }).catch(() => undefined);
      await exec('buildah', [...g, 'rmi', '--all', '--force'], { okExitCodes: [1, 125] }).catch(() => undefined);
    }
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** The in-house base for one platform, built and pushed once; its reference pinned by digest. */
  const baseImage = async (platform: string): Promise<string> => {
    const archName = platform.split('/')[1];
    let started = Date.now();
    // build-rootfs.sh keeps the tar when its inputs (this folder, mirrors, date) are unchanged.
    await exec('bash', [join(WORKSPACE, 'tools/base-image/build-rootfs.sh'), `--out=${ROOTFS_CACHE}`], {
      env: { ...process.env, AUREN_PLATFORMS: platform }, timeoutMs: 15 * 60_000,
    });
    progress(`the ${archName} root filesystem`, started);
    started = Date.now();
    const context = join(work, `base-${archName}`);
    await mkdir(context, { recursive: true });
    await link(join(ROOTFS_CACHE, `rootfs-${archName}.tar`), join(context, `rootfs-${archName}.tar`));
    const root = join(work, `base-storage-${archName}`);
    roots.push({ driver: 'vfs', root });
    const env = envFor('vfs', root);
    const outputDir = join(work, `base-${archName}-oci`);
    await buildahBuilder().build({
      context, dockerfile: join(WORKSPACE, 'tools/base-image/Dockerfile'), buildArgs: {}, labels: {}, platforms: [platform], target: undefined,
      outputDir, insecureRegistries: [], certDir: undefined, cacheFrom: [], cacheTo: [], timestamp: LAYER_EPOCH,
      localName: `localhost/storage-test/base:${randomBytes(4).toString('hex')}`, env, verbose: false, layerCache: createLayerCache(join(work, `base-cache-${archName}`)),
    });
    const digestFile = join(work, `base-${archName}.digest`);
    await exec('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--digestfile', digestFile, `oci:${outputDir}:latest`, `docker://${registry.host}/t/base:${archName}`]);
    progress(`the ${archName} base image`, started);
    return `${registry.host}/t/base@${(await readFile(digestFile, 'utf8')).trim()}`;
  };

  const buildApp = async (driver: Driver, platform: string, base: string): Promise<Built> => {
    const started = Date.now();
    const archName = platform.split('/')[1];
    // A clean machine: empty storage root, empty layer cache.
    const root = join(work, `${driver}-${archName}`);
    roots.push({ driver, root });
    const context = join(WORKSPACE, 'apps/biometric-bridge');
    const outputDir = join(work, `${driver}-${archName}-oci`);
    await buildahBuilder().build({
      context, dockerfile: join(context, 'Dockerfile'), buildArgs: { BASE_IMAGE: base }, labels: { 'org.opencontainers.image.title': 'biometric-bridge' },
      platforms: [platform], target: undefined, outputDir, insecureRegistries: [registry.host], certDir: undefined, cacheFrom: [], cacheTo: [],
      timestamp: LAYER_EPOCH, localName: `localhost/storage-test/biometric-bridge:${randomBytes(4).toString('hex')}`,
      env: envFor(driver, root), verbose: false, layerCache: createLayerCache(join(work, `cache-${driver}-${archName}`)),
    });
    progress(`biometric-bridge ${archName} on ${driver}`, started);
    return readImage(outputDir, join(work, `${driver}-${archName}-list.tar`));
  };

  it.each(PLATFORMS)('biometric-bridge %s has one digest on overlay and on vfs', async (platform) => {
    const base = await baseImage(platform);
    // Side by side, as two machines would: apt's downloads of one overlap the other's work.
    const [overlay, vfs] = await Promise.all(DRIVERS.map((driver) => buildApp(driver, platform, base)));
    expect(layerDifferences(overlay, vfs)).toEqual([]);
    expect(overlay.digest).toBe(vfs.digest);
    // Nothing the storage merely touched is left in the layers.
    const all = overlay.layers.slice(1).flat().map((entry) => entry.split(' ')[0]);
    expect(all.filter((path) => ['run', 'tmp', 'var/lib/dpkg/lock-frontend', 'etc/.pwd.lock', 'var/cache/ldconfig'].includes(path))).toEqual([]);
  }, 30 * 60_000);
});
