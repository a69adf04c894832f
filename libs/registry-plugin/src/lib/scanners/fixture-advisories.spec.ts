/**
 * The fixture vulnerability database (tools/trivy-db/advisories.json) promises findings in our
 * images: a CRITICAL and a HIGH in auren-api, a MEDIUM in every image. Each advisory names the
 * package and version it hits; this checks them against what a build installs today (Debian
 * bookworm as apt sees it, which is what the base image's mmdebstrap and the apps' apt-get
 * install), so a Debian update that fixes the fixture's package fails here, not silently in a
 * demo that no longer shows a finding.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exec } from '../exec/exec';

const WORKSPACE = resolve(__dirname, '../../../../..');
const ADVISORIES = join(WORKSPACE, 'tools/trivy-db/advisories.json');
const BASE_PACKAGES = join(WORKSPACE, 'tools/base-image/packages.txt');
/** Written by the base image's build (tools/base-image/build-rootfs.sh): what it installed. */
const BASE_LOCK = join(WORKSPACE, 'dist/base-image/packages-amd64.lock');

interface Advisory {
  id: string;
  platform: string;
  sourcePackage: string;
  fixedVersion: string;
  severity: string;
  hits: { package: string; version: string; image: string };
}

const advisories = (JSON.parse(readFileSync(ADVISORIES, 'utf8')) as { advisories: Advisory[] }).advisories;

/** apt options: the machine's package lists, or private ones when the machine has none. */
let aptOptions: string[] = [];
let privateLists: string | undefined;
const hasLists = async () => /^\s+\d+ (https?|file|cdrom):/m.test((await exec('apt-cache', [...aptOptions, 'policy', 'gzip'])).stdout);

beforeAll(async () => {
  if (await hasLists()) return;
  // No package lists (a machine that cleaned them after installing): fetch bookworm's into a
  // folder of this test, from the sources the machine is configured with.
  privateLists = await mkdtemp(join(tmpdir(), 'auren-apt-lists-'));
  await mkdir(join(privateLists, 'lists', 'partial'), { recursive: true });
  await mkdir(join(privateLists, 'cache', 'archives', 'partial'), { recursive: true });
  aptOptions = ['-o', `Dir::State::Lists=${join(privateLists, 'lists')}`, '-o', `Dir::Cache=${join(privateLists, 'cache')}`, '-o', 'Debug::NoLocking=1'];
  await exec('apt-get', [...aptOptions, '-qq', 'update'], { timeoutMs: 240_000 });
  if (!(await hasLists())) throw new Error('apt-get update gave no bookworm package lists: the Debian mirror is needed for this test');
}, 300_000);

afterAll(async () => {
  if (privateLists) await rm(privateLists, { recursive: true, force: true });
});

/** The version a build installs now: apt's candidate, from bookworm's package lists. */
async function bookwormVersion(pkg: string): Promise<string> {
  const { stdout } = await exec('apt-cache', [...aptOptions, 'policy', pkg]);
  const candidate = /^\s*Candidate: (\S+)$/m.exec(stdout)?.[1];
  if (!candidate || candidate === '(none)') throw new Error(`${pkg} is not a Debian bookworm package here`);
  return candidate;
}

async function control(pkg: string): Promise<Record<string, string>> {
  const { stdout } = await exec('apt-cache', [...aptOptions, 'show', '--no-all-versions', pkg]);
  return Object.fromEntries([...stdout.matchAll(/^([A-Za-z-]+): (.*)$/gm)].map((m) => [m[1], m[2]]));
}

async function versionLessThan(a: string, b: string): Promise<boolean> {
  const { exitCode } = await exec('dpkg', ['--compare-versions', a, 'lt', b], { okExitCodes: [0, 1] });
  return exitCode === 0;
}

/** Where the advisory's image gets the package: the base image's package set, or the app's Dockerfile. */
async function installedBy(image: string, pkg: string, fields: Record<string, string>): Promise<boolean> {
  if (image === 'base-image') {
    // mmdebstrap's minbase: the Essential set, Priority required, apt; plus packages.txt.
    const extra = readFileSync(BASE_PACKAGES, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    return fields['Essential'] === 'yes' || fields['Priority'] === 'required' || pkg === 'apt' || extra.includes(pkg);
  }
  const dockerfile = join(WORKSPACE, 'apps', image, 'Dockerfile');
  return existsSync(dockerfile) && new RegExp(`apt-get install[^\\n]*(\\\\\\n[^\\n]*)*\\s${pkg.replace(/[.+]/g, '\\$&')}(\\s|$)`).test(readFileSync(dockerfile, 'utf8'));
}

describe('the fixture advisories hit packages our images install today', () => {
  it('has a CRITICAL, a HIGH without a fix and a MEDIUM in every image', () => {
    const shape = advisories.map((a) => `${a.severity} ${a.fixedVersion ? 'fixed' : 'unfixed'} ${a.hits.image}`).sort();
    expect(shape).toEqual(['CRITICAL fixed auren-api', 'HIGH unfixed auren-api', 'MEDIUM fixed base-image']);
  });

  it.each(advisories.map((a) => [a.id, a.hits.package, a] as const))('%s: %s is at the version it names, vulnerable, in its image', async (_id, pkg, advisory) => {
    const { hits } = advisory;
    const now = await bookwormVersion(pkg);
    const fields = await control(pkg);
    const problems: string[] = [];
    if (now !== hits.version) problems.push(`Debian bookworm now has ${pkg} ${now}, the advisory names ${hits.version}`);
    if (hits.image === 'base-image' && existsSync(BASE_LOCK)) {
      const built = new RegExp(`^${pkg.replace(/[.+]/g, '\\$&')}=(\\S+)$`, 'm').exec(readFileSync(BASE_LOCK, 'utf8'))?.[1];
      if (built !== hits.version) problems.push(`the base image built here has ${pkg} ${built ?? '(not installed)'}`);
    }
    // Trivy matches Debian advisories by source package.
    const source = (fields['Source'] ?? fields['Package']).split(' ')[0];
    if (source !== advisory.sourcePackage) problems.push(`${pkg} is built from source package ${source}, the advisory names ${advisory.sourcePackage}`);
    if (advisory.fixedVersion && !(await versionLessThan(now, advisory.fixedVersion))) problems.push(`${pkg} ${now} is already fixed (fixedVersion ${advisory.fixedVersion})`);
    if (!(await installedBy(hits.image, pkg, fields))) problems.push(hits.image === 'base-image' ? `${pkg} is not one the base image asks for (Essential, Priority required, or tools/base-image/packages.txt)` : `apps/${hits.image}/Dockerfile does not apt-get install ${pkg}`);
    expect(problems).toEqual([]);
  });
});
