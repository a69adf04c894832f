// @auren-test-tools trivy crane (tools/.bin: tools/scripts/test-all.sh runs this file once the test tools are built)
/**
 * End to end, with every part real: a copy of this workspace with its own git history, real Nx
 * commands, real buildah builds, a real distribution registry on a free port and the real Trivy
 * (tools/.bin, from `setup.sh --test-tools`), whose database the registry serves once a step
 * publishes it (`nx run registry:trivy-db`). Pushed images are read back by crane, an
 * independent client. The steps share one registry and history, in order, as a team's merges would.
 */
import { mkdir, readFile } from 'node:fs/promises';
import execa from 'execa';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createRegistryClient, type RegistryClient } from '../lib/registry/client';
import { readOciLayout } from '../lib/registry/layout';
import { pushThroughFaults } from '../testing/fault-scenario.testing';
import { startTestRegistry, freePort, type TestRegistry } from '../testing/registry-server.testing';
import { cloneWorkspace, type WorkspaceClone } from './workspace.testing';

const APPS = ['auren-api', 'biometric-bridge', 'auren-nginx'] as const;
const STEP = 20 * 60_000;

let registry: TestRegistry;
let ws: WorkspaceClone;
let client: RegistryClient;

/**
 * tag → digest, for every image tag of a repository. `sha256-<hex>` tags are the OCI 1.1
 * referrers fallback indexes that hold an image's SBOM, signature and provenance, and
 * `sha256-<hex>.sig` is cosign's legacy signature: attached to an image, not image tags.
 */
async function tagMap(repo: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const tag of (await client.tagList(`auren/${repo}`)).filter((t) => !/^sha256-[a-f0-9]{64}(\.(sig|att|sbom))?$/.test(t))) {
    const head = await client.manifestHead(`auren/${repo}`, tag);
    if (head !== 'not-found') out[tag] = head.digest;
  }
  return out;
}

async function snapshot(): Promise<Record<string, Record<string, string>>> {
  const all: Record<string, Record<string, string>> = {};
  for (const app of [...APPS, 'base-debian']) all[app] = await tagMap(app);
  return all;
}

async function gitTags(): Promise<string[]> {
  return (await ws.git('tag', '--list')).split('\n').filter(Boolean).sort();
}

function expectOk(result: { exitCode: number; all?: string }, what: string): void {
  if (result.exitCode !== 0) throw new Error(`${what} failed (${result.exitCode}):\n${(result.all ?? '').slice(-6000)}`);
}

/**
 * crane, an independent client, reads back what a project's push.json says was pushed: every
 * blob of every platform hashes to its digest (`validate --remote`), and the tag resolves to the
 * recorded digest.
 */
async function expectCraneReadsPushed(projects: readonly string[]): Promise<void> {
  for (const project of projects) {
    const record = JSON.parse(await readFile(join(ws.dir, 'dist/images', project, 'push.json'), 'utf8')) as { registry: string; repository: string; digest: string; tags: string[] };
    const ref = `${record.registry}/${record.repository}`;
    const validate = await execa('crane', ['validate', '--insecure', '--remote', `${ref}@${record.digest}`], { reject: false, all: true });
    expect({ project, exitCode: validate.exitCode, output: validate.all }).toEqual({ project, exitCode: 0, output: expect.stringContaining('PASS') });
    const digest = await execa('crane', ['digest', '--insecure', `${ref}:${record.tags[0]}`]);
    expect({ project, digest: digest.stdout.trim() }).toEqual({ project, digest: record.digest });
  }
}

const dateTag = /^\d{8}-\d{4}$/;
const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

beforeAll(async () => {
  registry = await startTestRegistry();
  client = createRegistryClient({ registry: registry.host });
  ws = await cloneWorkspace({ AUREN_REGISTRY: `${registry.host}/auren` });
}, 60_000);

afterAll(async () => {
  await ws?.remove();
  await registry?.stop();
});

describe('the pipeline on a real workspace', () => {
  it('first run pushes every app and the base image, versioned and tagged', async () => {
    expectOk(await ws.nx(['run-many', '-t', 'docker-push']), 'nx run-many -t docker-push');
    const sha7 = (await ws.git('rev-parse', '--short=7', 'HEAD')).trim();
    const tags = await snapshot();
    for (const app of APPS) {
      expect(Object.keys(tags[app]).sort()).toEqual(expect.arrayContaining(['latest', 'v0.1.0', `main-${sha7}`]));
      expect(Object.keys(tags[app]).some((t) => dateTag.test(t))).toBe(true);
      expect(new Set(Object.values(tags[app])).size).toBe(1);
    }
    expect(tags['base-debian'].bookworm).toBeDefined();
    expect(await gitTags()).toEqual(['auren-api@0.1.0', 'auren-nginx@0.1.0', 'base-image@0.1.0', 'biometric-bridge@0.1.0']);
    await expectCraneReadsPushed([...APPS, 'base-image']);
  }, STEP);

  it('the pushed images work, read by standard clients', async () => {
    const checks: Record<string, string[]> = {
      'auren-api': ['python3', '-c', 'import fastapi, uvicorn, auren.api.dashboard_api_minimal as m; print(m.app.title)'],
      'biometric-bridge': ['python3', '-c', 'import kafka, redis, psycopg2, biometric_bridge; print("clients ok")'],
      // The upstreams resolve on the deployment's network; here they are mapped to loopback.
      'auren-nginx': ['sh', '-c', 'printf "127.0.0.1 auren-api biometric-bridge\\n" >> /etc/hosts && nginx -t -c /etc/nginx/nginx.conf 2>&1 | cat'],
    };
    for (const [app, command] of Object.entries(checks)) {
      const ref = `docker://${registry.host}/auren/${app}:v0.1.0`;
      const inspect = await execa('skopeo', ['inspect', '--tls-verify=false', ref]);
      expect(JSON.parse(inspect.stdout).Labels['org.opencontainers.image.version']).toBe('0.1.0');
      const ctr = (await execa('buildah', ['--storage-driver', 'vfs', 'from', '--tls-verify=false', '--quiet', ref.replace('docker://', '')])).stdout.trim();
      try {
        const run = await execa('buildah', ['--storage-driver', 'vfs', 'run', '--isolation', 'chroot', ...(app === 'auren-nginx' ? ['--user', '0:0'] : []), ctr, '--', ...command], { reject: false, all: true });
        expect({ app, exitCode: run.exitCode, output: run.all }).toEqual(expect.objectContaining({ app, exitCode: 0 }));
        if (app === 'auren-nginx') expect(run.all).toMatch(/syntax is ok/);
      } finally {
        await execa('buildah', ['--storage-driver', 'vfs', 'rm', ctr], { reject: false });
      }
    }
  }, STEP);

  it('the three app images cross a faulty network intact', async () => {
    const target = await startTestRegistry();
    try {
      const images = [];
      for (const app of APPS) images.push({ repository: `auren/${app}`, layout: await readOciLayout(join(ws.dir, 'dist/images', app, 'oci')) });
      const applied = await pushThroughFaults(target.url, images, ['v0.1.0']);
      expect(applied).toEqual(['delay', 'drop', 'reset', 'respond 429', 'respond 503'].sort());
      for (const { repository, layout } of images) {
        const raw = await execa('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${target.host}/${repository}:v0.1.0`], { stripFinalNewline: false });
        expect(sha256(raw.stdout)).toBe(layout.digest);
        // skopeo copies every blob back out; distribution checked each digest on upload.
        const copy = join(ws.dir, 'tmp', 'copies', repository);
        await mkdir(copy, { recursive: true });
        await execa('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${target.host}/${repository}:v0.1.0`, `oci:${copy}:v0.1.0`]);
      }
    } finally {
      await target.stop();
    }
  }, STEP);

  it('a second run with nothing changed rebuilds nothing and uploads no blob', async () => {
    const before = await snapshot();
    const run = await ws.nx(['run-many', '-t', 'docker-push']);
    expectOk(run, 'second nx run-many -t docker-push');
    for (const project of [...APPS, 'base-image']) {
      expect(run.all).toMatch(new RegExp(`nx run ${project}:docker-build\\s+\\[local cache\\]`));
      expect(run.all).toMatch(new RegExp(`nx run ${project}:scan\\s+\\[local cache\\]`));
      const record = JSON.parse(await readFile(join(ws.dir, 'dist/images', project, 'push.json'), 'utf8'));
      expect({ project, uploaded: record.blobs.uploaded, bytes: record.blobs.bytesUploaded }).toEqual({ project, uploaded: 0, bytes: 0 });
    }
    expect(await snapshot()).toEqual(before);
  }, STEP);

  it('a commit touching only auren-nginx adds tags to auren-nginx only', async () => {
    const before = await snapshot();
    const sha = await ws.commit('fix(nginx): shorter upstream timeout', { 'apps/auren-nginx/conf.d/auren.conf': '\n# tuned\n' });
    expectOk(await ws.nx(['affected', '-t', 'docker-push', '--base=HEAD~1', '--head=HEAD']), 'nx affected');
    const after = await snapshot();
    for (const unchanged of ['auren-api', 'biometric-bridge', 'base-debian']) expect(after[unchanged]).toEqual(before[unchanged]);
    const added = Object.keys(after['auren-nginx']).filter((t) => !(t in before['auren-nginx']));
    expect(added.sort()).toEqual(expect.arrayContaining(['v0.1.1', `main-${sha.slice(0, 7)}`]));
    expect(after['auren-nginx'].latest).toBe(after['auren-nginx']['v0.1.1']);
    expect(after['auren-nginx'].latest).not.toBe(before['auren-nginx'].latest);
    expect(await gitTags()).toContain('auren-nginx@0.1.1');
    await expectCraneReadsPushed(['auren-nginx']);
  }, STEP);

  it('--dry-run prints the plan and changes nothing', async () => {
    const before = await snapshot();
    const gitBefore = await gitTags();
    await ws.commit('feat(api): weekly dashboard summary', { 'apps/auren-api/auren/api/config.py': '\n# weekly summaries\n' });
    const run = await ws.nx(['affected', '-t', 'docker-push', '--base=HEAD~1', '--head=HEAD'], { NX_DRY_RUN: 'true' });
    expectOk(run, 'nx affected (dry run)');
    expect(run.all).toContain('version 0.2.0');
    expect(run.all).toMatch(/tag v0\.2\.0: create/);
    expect(run.all).toMatch(/tag latest: move/);
    expect(run.all).toMatch(/blobs: \d+ to upload/);
    expect(await snapshot()).toEqual(before);
    expect(await gitTags()).toEqual(gitBefore);
  }, STEP);

  it('a feat: commit on auren-api releases a new minor version with the full tag set', async () => {
    const before = await snapshot();
    const gitBefore = await gitTags();
    const sha = (await ws.git('rev-parse', 'HEAD')).trim();
    const run = await ws.nx(['affected', '-t', 'docker-push', '--base=HEAD~1', '--head=HEAD']);
    expectOk(run, 'nx affected');
    // The dry run already built this commit: the real run takes the image from the cache.
    expect(run.all).toMatch(/nx run auren-api:docker-build\s+\[local cache\]/);
    const after = await snapshot();
    const api = after['auren-api'];
    const added = Object.keys(api).filter((t) => !(t in before['auren-api']));
    expect(added).toEqual(expect.arrayContaining(['v0.2.0', `main-${sha.slice(0, 7)}`]));
    expect(added.some((t) => dateTag.test(t))).toBe(true);
    expect(api.latest).toBe(api['v0.2.0']);
    for (const other of ['biometric-bridge', 'auren-nginx', 'base-debian']) expect(after[other]).toEqual(before[other]);
    expect((await gitTags()).filter((t) => !gitBefore.includes(t))).toEqual(['auren-api@0.2.0']);
    await expectCraneReadsPushed(['auren-api']);
  }, STEP);

  it('a feature branch pushes development tags and never moves latest', async () => {
    const before = await snapshot();
    const gitBefore = await gitTags();
    await ws.git('checkout', '-q', '-b', 'feature/Login_Page');
    const sha = await ws.commit('feat(api): login page', { 'apps/auren-api/auren/api/config.py': '\n# login\n' });
    expectOk(await ws.nx(['affected', '-t', 'docker-push', '--base=HEAD~1', '--head=HEAD']), 'nx affected on a branch');
    const api = (await snapshot())['auren-api'];
    const added = Object.keys(api).filter((t) => !(t in before['auren-api'])).sort();
    expect(added).toEqual(['dev-feature-login-page', `feature-login-page-${sha.slice(0, 7)}`].sort());
    expect(api.latest).toBe(before['auren-api'].latest);
    expect(await gitTags()).toEqual(gitBefore);
    await expectCraneReadsPushed(['auren-api']);
    await ws.git('checkout', '-q', 'main');
  }, STEP);

  it('refuses to push a different image under an existing version tag, changing nothing', async () => {
    // The branch build of auren-api is not the image released as v0.1.0.
    const before = await snapshot();
    const run = await ws.nx(['run', 'auren-api:docker-push', '--excludeTaskDependencies', '--tags=v0.1.0,latest']);
    expect(run.exitCode).not.toBe(0);
    expect(run.all).toMatch(/v0\.1\.0 already names sha256:/);
    expect(run.all).toMatch(/nothing was pushed/);
    expect(await snapshot()).toEqual(before);
  }, STEP);

  it('a CRITICAL finding blocks scan and push, names the finding, pushes nothing', async () => {
    // A new vulnerability database reaches the registry: the fixture one (tools/trivy-db), whose
    // CRITICAL advisory is for fastapi, in the auren-api image only. Trivy reads it from there.
    const published = await ws.nx(['run', 'registry:trivy-db']);
    expectOk(published, 'nx run registry:trivy-db');
    expect(published.all).toContain(`published ${registry.host}/auren/trivy-db:2@sha256:`);
    const before = await snapshot();
    // The new database changes the scan's cache key: the cached scan is not reused.
    const push = await ws.nx(['run', 'auren-api:docker-push']);
    expect(push.exitCode).not.toBe(0);
    expect(push.all).not.toMatch(/nx run auren-api:scan\s+\[local cache\]/);
    expect(push.all).toMatch(/CRITICAL CVE-2026-90001 python3-fastapi 0\.92\.0-1 → fixed in 0\.92\.0-1\+deb12u1/);
    const report = JSON.parse(await readFile(join(ws.dir, 'dist/images/auren-api/scan/report.json'), 'utf8'));
    expect(report.verdict).toBe('blocked');
    const trivyVersion = JSON.parse((await execa('trivy', ['version', '--format', 'json'])).stdout).Version;
    expect(report.vulnerabilityScan.scanner).toEqual(expect.objectContaining({ name: 'trivy', version: trivyVersion, dbSource: expect.stringContaining(`${registry.host}/auren/trivy-db@sha256:`) }));
    expect(report.gate.blocking.map((f: { id: string; pkgName: string }) => `${f.id} ${f.pkgName}`)).toContain('CVE-2026-90001 python3-fastapi');
    expect(await snapshot()).toEqual(before);
  }, STEP);

  it('a service added by the docker-app generator gets its targets at once and pushes a working image', async () => {
    expectOk(await ws.nx(['g', '@auren/registry-plugin:docker-app', 'demo-svc', '--no-interactive']), 'nx g docker-app');
    const show = await ws.nx(['show', 'project', 'demo-svc', '--json']);
    expectOk(show, 'nx show project demo-svc');
    expect(Object.keys(JSON.parse(show.stdout).targets)).toEqual(expect.arrayContaining(['docker-build', 'scan', 'docker-push']));
    await ws.git('add', '-A');
    await ws.git('commit', '-q', '-m', 'feat(demo-svc): new service');
    expectOk(await ws.nx(['run', 'demo-svc:docker-push']), 'nx run demo-svc:docker-push');
    const tags = await tagMap('demo-svc');
    expect(Object.keys(tags)).toEqual(expect.arrayContaining(['v0.1.0', 'latest']));
    const ctr = (await execa('buildah', ['--storage-driver', 'vfs', 'from', '--tls-verify=false', '--quiet', `${registry.host}/auren/demo-svc:v0.1.0`])).stdout.trim();
    try {
      const run = await execa('buildah', ['--storage-driver', 'vfs', 'run', '--isolation', 'chroot', ctr, '--', 'python3', '-c', 'import http.server, pathlib; assert pathlib.Path("/srv/index.html").is_file()'], { reject: false, all: true });
      expect({ exitCode: run.exitCode, output: run.all }).toEqual(expect.objectContaining({ exitCode: 0 }));
    } finally {
      await execa('buildah', ['--storage-driver', 'vfs', 'rm', ctr], { reject: false });
    }
  }, STEP);

  describe('bad input gets a clear error and pushes nothing', () => {
    it.each([
      ['a missing Dockerfile', ['run', 'auren-nginx:docker-build', '--excludeTaskDependencies', '--dockerfile=apps/auren-nginx/Nope.Dockerfile', '--skip-nx-cache'], {}, /no Dockerfile at apps\/auren-nginx\/Nope\.Dockerfile/],
      ['an invalid registry address', ['run', 'auren-nginx:docker-push', '--excludeTaskDependencies'], { AUREN_REGISTRY: 'http://registry.example/auren' }, /invalid AUREN_REGISTRY/],
      ['a tag that breaks the OCI grammar', ['run', 'auren-nginx:docker-push', '--excludeTaskDependencies', '--tags=-bad'], {}, /invalid image tag "-bad"/],
    ])('%s', async (_name, args, env, message) => {
      const before = await snapshot();
      const run = await ws.nx(args, env);
      expect(run.exitCode).not.toBe(0);
      expect(run.all).toMatch(message);
      expect(await snapshot()).toEqual(before);
    }, STEP);

    it('a registry that is down', async () => {
      const port = await freePort();
      const run = await ws.nx(['run', 'auren-nginx:docker-push', '--excludeTaskDependencies'], { AUREN_REGISTRY: `127.0.0.1:${port}/auren` });
      expect(run.exitCode).not.toBe(0);
      expect(run.all).toMatch(new RegExp(`registry 127\\.0\\.0\\.1:${port} is not reachable`));
      expect(run.all).toMatch(/nx run registry:serve|AUREN_REGISTRY/);
    }, STEP);
  });

  it('a commit touching the base image affects all three apps', async () => {
    await ws.commit('chore(base): note', { 'tools/base-image/Dockerfile': '\n# base image note\n' });
    const run = await ws.nx(['show', 'projects', '--affected', '--base=HEAD~1', '--head=HEAD', '--withTarget', 'docker-push', '--json']);
    expectOk(run, 'nx show projects --affected');
    const affected = JSON.parse(run.stdout) as string[];
    // demo-svc, added by the generator earlier, builds on the base image too.
    expect(affected.sort()).toEqual([...APPS, 'base-image', 'demo-svc'].sort());
  }, STEP);

});
