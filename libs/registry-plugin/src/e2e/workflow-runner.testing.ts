/**
 * The repository's own workflows, end to end (workflow-runner.spec.ts): the jobs of
 * .github/workflows/release.yml and pr.yml, run step by step by the GitHub Actions emulator of
 * tools/workflow-runner, on a clone with its own git history, against a real registry.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import execa from 'execa';
import {
  artifactStore,
  checkoutWorkspace,
  jobCondition,
  matrixCombinations,
  noEffect,
  nxSetShas,
  runWorkflowJob,
  uploadSarif,
  type ArtifactStore,
  type JobRun,
  type NeedsResult,
  type StandIn,
  type StepRun,
  type WorkflowEvent,
} from '../../../../tools/workflow-runner/src';

/** The repository the emulated runs belong to: what actions/checkout names as origin. */
export const EMULATED_REPOSITORY_URL = 'https://github.com/auren/auren';

export interface ScenarioWorkspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  git(...args: string[]): Promise<string>;
  commit(message: string, files: Record<string, string>): Promise<string>;
}

export interface ReleaseScenarioResult {
  /** Version the bridge had before (newest biometric-bridge@ tag) and the one expected now. */
  previousVersion: string;
  expectedVersion: string;
  /** The scripted commit. */
  sha: string;
  /** Registry tags created or moved by the run, for every repository under auren/ (empty: untouched). */
  pushedTags: Record<string, string[]>;
  /** Tag → digest of each repository after the run. */
  registryTags: Record<string, Record<string, string>>;
  /** Git tags on the bare `origin`, and those the run added there. */
  gitTagsOnOrigin: string[];
  newGitTagsOnOrigin: string[];
  /** The job summaries of every job that ran, in order. */
  summary: string;
  jobs: JobRun[];
  /** Every run step that ran, with its script (expressions evaluated), in order. */
  runSteps: Array<{ job: string; name: string; script: string }>;
  /** release.yml as the run read it. */
  workflow: string;
  /** The text of the cosign.pub whose private half the repository's secrets held. */
  publicKey: string;
  /** Artifacts the run kept, by name (push records, the deploy manifest). */
  artifacts: string[];
  /** The Compose override the deploy job kept as its artifact. */
  deployManifest: string;
  /** The deploy job run again on a push record whose digest was swapped for `forgedDigest`. */
  forgedDeploy?: JobRun;
}

export interface PullRequestScenarioResult {
  sha: string;
  jobs: JobRun[];
  runSteps: Array<{ job: string; name: string; script: string }>;
  /** What upload-sarif would have sent: the file (relative to the workspace), its category and its text. */
  sarif: Array<{ path: string; category: string; text: string }>;
}

const RELEASE_JOBS = ['plan', 'base-image', 'release', 'release-fanout', 'deploy'] as const;

function semverKey(version: string): number[] {
  return version.split(/[.-]/).slice(0, 3).map(Number);
}

/** Newest `<project>@<x.y.z>` git tag's version, or undefined. */
export function newestVersion(tags: string[], project: string): string | undefined {
  return tags
    .filter((tag) => new RegExp(`^${project}@\\d+\\.\\d+\\.\\d+$`).test(tag))
    .map((tag) => tag.slice(project.length + 1))
    .sort((a, b) => {
      const [x, y] = [semverKey(a), semverKey(b)];
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
    })
    .pop();
}

/** Tag → digest of every repository under auren/ (so a repository the run creates shows too). */
async function registryTagMap(registryHost: string): Promise<Record<string, Record<string, string>>> {
  const { createRegistryClient } = await import('../lib/registry/client');
  const client = createRegistryClient({ registry: registryHost });
  const out: Record<string, Record<string, string>> = {};
  const repositories = (await client.catalogList()).filter((name) => name.startsWith('auren/')).map((name) => name.slice('auren/'.length));
  for (const repo of repositories.sort()) {
    out[repo] = {};
    for (const tag of await client.tagList(`auren/${repo}`)) {
      const head = await client.manifestHead(`auren/${repo}`, tag);
      if (head !== 'not-found') out[repo][tag] = head.digest;
    }
  }
  return out;
}

/**
 * This machine as a GitHub-hosted runner for one workflow run. What stands in for what, and why:
 * - actions/checkout: the clone is the checkout, cleaned as `clean: true` does, with `origin`
 *   named as the action names it (EMULATED_REPOSITORY_URL, which build provenance records); the
 *   runner's git pushes that URL to a bare repository in a temporary folder (`pushInsteadOf`);
 * - actions/setup-node, actions/setup-go, actions/cache, docker/setup-qemu-action,
 *   docker/login-action: no effect needed (Node and Go are here, the tool cache is this
 *   machine's, the run builds for this machine's platform only, a loopback registry needs no
 *   login);
 * - actions/upload-artifact and actions/download-artifact: a folder of this run's artifacts, so a
 *   job gets exactly what an earlier job uploaded (tools/workflow-runner, artifacts.ts);
 * - github/codeql-action/upload-sarif: checks the file as code scanning would and records it;
 *   sending it needs GitHub;
 * - nrwl/nx-set-shas: NX_BASE and NX_HEAD as the scenario says;
 * - run steps: `npm ci` (node_modules is a link to the shared workspace's, installed from the
 *   same lockfile; `npm ci` would empty it for every other test) and "Start the local registry"
 *   (port 5000 is shared by everyone on this machine: the registry the test started plays it).
 * No other action has a stand-in, so a workflow that adds one fails before any step runs. The
 * product tools are installed by the workflow's own step (`setup.sh --product-tools`, from the
 * machine's tool cache): the runner's PATH does not have this workspace's tools/.bin.
 */
interface EmulatedRunner {
  scratch: string;
  origin: string;
  env: NodeJS.ProcessEnv;
  store: ArtifactStore;
  options(job: string, run: string, overrides?: { store?: ArtifactStore }): {
    env: NodeJS.ProcessEnv;
    standIns: Record<string, StandIn>;
    runStandIns: Record<string, StandIn>;
    runnerTemp: string;
    log?: (line: string) => void;
  };
  remove(): Promise<void>;
}

async function emulatedRunner(ws: ScenarioWorkspace, registryHost: string, shas: { base: string; head: string }): Promise<EmulatedRunner> {
  const scratch = await mkdtemp(join(tmpdir(), 'auren-workflow-'));
  const origin = join(scratch, 'origin.git');
  await execa('git', ['init', '-q', '--bare', origin]);

  // npm on this runner refuses to install (see above): a step that would, and is not stood
  // in, fails loudly instead of emptying the shared node_modules.
  const home = join(scratch, 'home');
  const guardBin = join(scratch, 'bin');
  await mkdir(join(home, 'docker'), { recursive: true });
  await mkdir(guardBin, { recursive: true });
  // buildah stats $DOCKER_CONFIG/config.json whenever DOCKER_CONFIG is set, so it must exist.
  await writeFile(join(home, 'docker', 'config.json'), '{"auths":{}}\n');
  await writeFile(join(home, 'gitconfig'), `[url "${origin}"]\n\tpushInsteadOf = ${EMULATED_REPOSITORY_URL}\n`);
  const realNpm = (await execa('sh', ['-c', 'command -v npm'], { env: ws.env })).stdout.trim();
  await writeFile(
    join(guardBin, 'npm'),
    [
      '#!/bin/sh',
      'case "$1" in',
      '  ci|install|i|uninstall|prune|update|dedupe|rebuild)',
      '    echo "npm $1 refused: node_modules in this workspace is the shared workspace\'s (the emulated runner)" >&2',
      '    exit 97 ;;',
      'esac',
      `exec ${JSON.stringify(realNpm)} "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const workspaceTools = resolve(__dirname, '../../../../tools/.bin');
  const path = (ws.env.PATH ?? '').split(delimiter).filter((dir) => resolve(dir) !== workspaceTools && resolve(dir) !== join(ws.dir, 'tools', '.bin'));
  const env: NodeJS.ProcessEnv = {
    ...ws.env,
    PATH: [guardBin, ...path].join(delimiter),
    GIT_CONFIG_GLOBAL: join(home, 'gitconfig'),
    DOCKER_CONFIG: join(home, 'docker'),
  };
  // The workflow must set these itself, from vars and secrets.
  for (const key of [
    'AUREN_REGISTRY', 'AUREN_REGISTRY_USERNAME', 'AUREN_REGISTRY_PASSWORD', 'AUREN_PLATFORMS', 'AUREN_BUILDER', 'AUREN_CACHE_REPO', 'NX_BASE', 'NX_HEAD',
    'AUREN_SIGNING_KEY', 'AUREN_SIGNING_PUBLIC_KEY', 'AUREN_SIGNING_IDENTITY', 'AUREN_SIGNING_ISSUER', 'AUREN_PROVENANCE_BUILDER_ID', 'COSIGN_PASSWORD',
  ]) {
    delete env[key];
  }

  // setup.sh runs `npm ci` when package-lock.json is newer than node_modules' marker; after the
  // checkout's `git reset --hard` the clone's copy is newer only by its mtime, while node_modules
  // was installed from the same file (cloneWorkspace links it), so the marker's time is the truth.
  const marker = join(ws.dir, 'node_modules', '.package-lock.json');
  const checkout: StandIn = async (step, ctx) => {
    await checkoutWorkspace(step, ctx);
    if (!existsSync(marker)) throw new Error(`${marker} is missing: the shared node_modules is not installed`);
    await execa('touch', ['-r', marker, join(ws.dir, 'package-lock.json')]);
    const remotes = (await execa('git', ['remote'], { cwd: ctx.cwd, env: ctx.env })).stdout.split('\n');
    await execa('git', ['remote', remotes.includes('origin') ? 'set-url' : 'add', 'origin', EMULATED_REPOSITORY_URL], { cwd: ctx.cwd, env: ctx.env });
  };
  const store = artifactStore(join(scratch, 'artifacts'));
  const runStandIns: Record<string, StandIn> = {
    'npm ci': async (_step, ctx) => {
      if (!existsSync(join(ctx.cwd, 'node_modules', '.package-lock.json'))) throw new Error('node_modules is not installed in the workspace');
    },
    'Start the local registry': async (_step, ctx) => {
      ctx.setEnv('AUREN_REGISTRY', `${registryHost}/auren`);
      ctx.log(`local registry (stand-in): ${registryHost}, started by the test`);
    },
  };
  return {
    scratch,
    origin,
    env,
    store,
    options: (job, run, overrides = {}) => {
      const artifacts = overrides.store ?? store;
      return {
        env,
        standIns: {
          'actions/checkout': checkout,
          'actions/setup-node': noEffect,
          'actions/setup-go': noEffect,
          'actions/cache': noEffect,
          'nrwl/nx-set-shas': nxSetShas(shas),
          'docker/login-action': noEffect,
          'docker/setup-qemu-action': noEffect,
          'actions/upload-artifact': artifacts.upload,
          'actions/download-artifact': artifacts.download,
          'github/codeql-action/upload-sarif': uploadSarif,
        },
        runStandIns,
        runnerTemp: join(scratch, `runner-${job}-${run}`),
        log: process.env.AUREN_WORKFLOW_LOG ? (line: string) => void process.stdout.write(`[${job}] ${line}\n`) : undefined,
      };
    },
    remove: async () => {
      // The checkout named origin after the emulated repository; the clone goes on without it.
      await ws.git('remote', 'remove', 'origin').catch(() => undefined);
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

interface WorkflowRun {
  workflowFile: string;
  cwd: string;
  event: WorkflowEvent;
  vars: Record<string, string>;
  secrets: Record<string, string>;
}

/** Runs jobs in order, each matrix combination in turn, feeding `needs`; throws at the first job that fails, with its log. */
async function runJobs(runner: EmulatedRunner, run: WorkflowRun, jobs: readonly string[], needs: Record<string, NeedsResult>, store?: ArtifactStore): Promise<JobRun[]> {
  const done: JobRun[] = [];
  for (const job of jobs) {
    const common = { workflowFile: run.workflowFile, job, cwd: run.cwd, event: run.event, vars: run.vars, needs };
    // A skipped job (its if: false) runs once without a matrix, which may be empty then.
    const combinations = (await jobCondition(common)) ? await matrixCombinations(common) : [undefined];
    const runs: JobRun[] = [];
    for (const [index, matrix] of combinations.entries()) {
      runs.push(await runWorkflowJob({ ...common, ...runner.options(job, `${done.length}-${index}`, { store }), secrets: run.secrets, matrix }));
    }
    done.push(...runs);
    const failed = runs.find((r) => r.result === 'failure');
    if (failed) {
      throw new Error(`${run.workflowFile} job ${failed.failure}\n--- job log (end) ---\n${failed.log.split('\n').slice(-80).join('\n')}`);
    }
    // Outputs of matrix jobs are last-writer-wins on GitHub.
    needs[job] = { result: runs.every((r) => r.result === 'skipped') ? 'skipped' : 'success', outputs: runs[runs.length - 1]?.outputs ?? {} };
  }
  return done;
}

/** A cosign key pair, made by the real cosign, as a team keeps it in the repository's secrets. */
async function teamKeyPair(dir: string, env: NodeJS.ProcessEnv): Promise<{ privateKey: string; publicKey: string; password: string }> {
  await mkdir(dir, { recursive: true });
  const password = `release-${Math.random().toString(36).slice(2)}`;
  const cosign = (await execa('sh', ['-c', 'command -v cosign'], { env: { ...env, PATH: `${resolve(__dirname, '../../../../tools/.bin')}${delimiter}${env.PATH ?? ''}` } })).stdout.trim();
  await execa(cosign, ['generate-key-pair'], { cwd: dir, env: { ...env, COSIGN_PASSWORD: password } });
  return { privateKey: await readFile(join(dir, 'cosign.key'), 'utf8'), publicKey: await readFile(join(dir, 'cosign.pub'), 'utf8'), password };
}

/**
 * A merge to main that changes the biometric bridge, released by .github/workflows/release.yml's
 * own steps, job after job, against the registry at `registryHost` (namespace auren), with the
 * signing configuration a team without KMS keeps: a cosign key pair made for the test, its
 * private half and password in secrets.AUREN_SIGNING_KEY / COSIGN_PASSWORD, its public half in
 * vars.AUREN_SIGNING_PUBLIC_KEY. (Keyless, the default on GitHub, needs GitHub's OIDC token.)
 * Then, with `forgedDigest`, the deploy job again on the run's push records with the bridge's
 * digest swapped for that one: what a tampered artifact or a wrong record would hand it.
 *
 * Repository settings: vars.AUREN_PLATFORMS=linux/amd64 (the arm64 build has its own test) and
 * vars.AUREN_REGISTRY_CACHE=false (the registry layer cache has its own test). The builder is the
 * workflow's own AUREN_BUILDER=buildah.
 */
export async function releaseWorkflowScenario(ws: ScenarioWorkspace, registryHost: string, options: { forgedDigest?: string } = {}): Promise<ReleaseScenarioResult> {
  const tagsBefore = (await ws.git('tag', '--list')).split('\n').filter(Boolean);
  const previousVersion = newestVersion(tagsBefore, 'biometric-bridge') ?? '0.1.0';
  const [major, minor] = semverKey(previousVersion);
  const expectedVersion = `${major}.${minor + 1}.0`;

  const base = (await ws.git('rev-parse', 'HEAD')).trim();
  const sha = await ws.commit('feat(bridge): drop duplicate heart-rate samples within one second', {
    'apps/biometric-bridge/biometric_bridge/dedup.py': '\n# Samples of one device within one second are duplicates.\n',
  });
  const runner = await emulatedRunner(ws, registryHost, { base, head: sha });
  try {
    // The merge reaches origin before the workflow starts, with the history and tags it builds on.
    await ws.git('push', '-q', runner.origin, 'main', '--tags');
    const originTagsBefore = await lsRemoteTags(ws, runner.origin);
    const keys = await teamKeyPair(join(runner.scratch, 'team-keys'), runner.env);
    const run: WorkflowRun = {
      workflowFile: '.github/workflows/release.yml',
      cwd: ws.dir,
      event: { name: 'push', ref: 'refs/heads/main', sha, before: base },
      vars: { AUREN_REGISTRY: `${registryHost}/auren`, AUREN_PLATFORMS: 'linux/amd64', AUREN_REGISTRY_CACHE: 'false', AUREN_SIGNING_PUBLIC_KEY: keys.publicKey },
      secrets: { AUREN_SIGNING_KEY: keys.privateKey, COSIGN_PASSWORD: keys.password },
    };
    const before = await registryTagMap(registryHost);
    const needs: Record<string, NeedsResult> = {};
    const jobs = await runJobs(runner, run, RELEASE_JOBS, needs);
    const after = await registryTagMap(registryHost);
    const pushedTags: Record<string, string[]> = {};
    for (const repo of Object.keys(after)) {
      pushedTags[repo] = Object.keys(after[repo])
        .filter((tag) => before[repo]?.[tag] !== after[repo][tag])
        .sort();
    }
    const manifestFile = join(runner.store.dir, 'deploy-manifest', 'docker-compose.override.yml');
    const deployManifest = existsSync(manifestFile) ? await readFile(manifestFile, 'utf8') : '';
    const artifacts = await runner.store.names();

    let forgedDeploy: JobRun | undefined;
    if (options.forgedDigest) {
      const forged = artifactStore(join(runner.scratch, 'forged-artifacts'));
      await mkdir(forged.dir, { recursive: true });
      await cp(join(runner.store.dir, 'push-records-release'), join(forged.dir, 'push-records-release'), { recursive: true });
      const record = join(forged.dir, 'push-records-release', 'biometric-bridge', 'push.json');
      const pushed = JSON.parse(await readFile(record, 'utf8')) as { digest: string };
      await writeFile(record, JSON.stringify({ ...pushed, digest: options.forgedDigest }, null, 2));
      const common = { workflowFile: run.workflowFile, job: 'deploy', cwd: run.cwd, event: run.event, vars: run.vars, needs };
      forgedDeploy = await runWorkflowJob({ ...common, ...runner.options('deploy', 'forged', { store: forged }), secrets: run.secrets });
    }

    const gitTagsOnOrigin = await lsRemoteTags(ws, runner.origin);
    return {
      previousVersion,
      expectedVersion,
      sha,
      pushedTags,
      registryTags: after,
      gitTagsOnOrigin,
      newGitTagsOnOrigin: gitTagsOnOrigin.filter((tag) => !originTagsBefore.includes(tag)),
      summary: jobs.map((job) => job.summary).join('\n'),
      jobs,
      runSteps: jobs.flatMap((job) => ranScripts(job.job, job.steps)),
      workflow: await readFile(join(ws.dir, run.workflowFile), 'utf8'),
      publicKey: keys.publicKey,
      artifacts,
      deployManifest,
      forgedDeploy,
    };
  } finally {
    // origin, runner folders, artifacts, keys, npm guard and git/docker configuration are this run's alone.
    await runner.remove();
  }
}

/**
 * A pull request against main that changes the biometric bridge, checked by
 * .github/workflows/pr.yml: the `affected` job builds and scans it with the real Trivy (the
 * registry serves the vulnerability database) and keeps the reports; `code-scanning` downloads
 * them and hands each image's SARIF to upload-sarif, once per scanned image. The branch is left
 * checked out at the end; the clone returns to main.
 */
export async function pullRequestWorkflowScenario(ws: ScenarioWorkspace, registryHost: string): Promise<PullRequestScenarioResult> {
  const base = (await ws.git('rev-parse', 'HEAD')).trim();
  await ws.git('checkout', '-q', '-b', 'feature/bridge-batching');
  try {
    const sha = await ws.commit('feat(bridge): batch Kafka commits', {
      'apps/biometric-bridge/biometric_bridge/batching.py': '\n# Offsets are committed once per batch.\n',
    });
    const runner = await emulatedRunner(ws, registryHost, { base, head: sha });
    try {
      const number = 7;
      const run: WorkflowRun = {
        workflowFile: '.github/workflows/pr.yml',
        cwd: ws.dir,
        event: {
          name: 'pull_request',
          ref: `refs/pull/${number}/merge`,
          sha,
          payload: {
            number,
            pull_request: { number, head: { ref: 'feature/bridge-batching', sha, repo: { full_name: 'auren/auren' } }, base: { ref: 'main', sha: base } },
          },
        },
        // As for the release: one platform (the arm64 build has its own test).
        vars: { AUREN_PLATFORMS: 'linux/amd64' },
        secrets: {},
      };
      const jobs = await runJobs(runner, run, ['affected', 'code-scanning'], {});
      const sarif = [];
      for (const upload of jobs.flatMap((job) => job.recorded).filter((r) => r.kind === 'sarif')) {
        sarif.push({ path: upload.path, category: upload.detail?.category ?? '', text: await readFile(join(ws.dir, upload.path), 'utf8') });
      }
      return { sha, jobs, runSteps: jobs.flatMap((job) => ranScripts(job.job, job.steps)), sarif };
    } finally {
      await runner.remove();
    }
  } finally {
    await ws.git('checkout', '-q', '-f', 'main');
  }
}

function ranScripts(job: string, steps: StepRun[]): ReleaseScenarioResult['runSteps'] {
  return steps.flatMap((step) => [
    ...(step.script !== undefined ? [{ job, name: step.name, script: step.script }] : []),
    ...ranScripts(job, step.steps ?? []),
  ]);
}

async function lsRemoteTags(ws: ScenarioWorkspace, remote: string): Promise<string[]> {
  return (await ws.git('ls-remote', '--tags', '--refs', remote))
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t')[1].replace(/^refs\/tags\//, ''))
    .sort();
}
