/**
 * The release workflow, end to end (called from pipeline.spec.ts): .github/workflows/release.yml's
 * own jobs, run step by step by the workflow runner of tools/workflow-runner.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import execa from 'execa';
import {
  checkoutWorkspace,
  jobCondition,
  matrixCombinations,
  noEffect,
  nxSetShas,
  recordUpload,
  runWorkflowJob,
  type JobRun,
  type NeedsResult,
  type StandIn,
  type StepRun,
} from '../../../../tools/workflow-runner/src';

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
}

interface ScenarioWorkspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  git(...args: string[]): Promise<string>;
  commit(message: string, files: Record<string, string>): Promise<string>;
}

const RELEASE_JOBS = ['plan', 'base-image', 'release', 'release-fanout'] as const;

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
 * A merge to main that changes the biometric bridge, released by .github/workflows/release.yml's
 * own `run:` steps, job after job, against the registry at `registryHost` (namespace auren).
 *
 * What stands in for what, and why:
 * - actions/checkout: the clone is the checkout (cleaned as `clean: true` does);
 *   actions/setup-node, actions/cache, docker/setup-qemu-action, docker/login-action: no effect
 *   needed (Node 20 is here; the run builds for this machine's platform only; the loopback
 *   registry needs no login). No other action has a stand-in, so a workflow that went back to
 *   docker/setup-buildx-action fails before any step runs;
 * - nrwl/nx-set-shas: NX_BASE = the commit before the change, NX_HEAD = HEAD;
 * - run steps that need what this machine cannot have: `npm ci` (node_modules is a link to the
 *   shared workspace's, installed from the same lockfile; removing it would break every other
 *   test) and "Install Trivy" (downloads from GitHub; the Trivy stand-in of
 *   tools/scanner-standins goes on PATH instead, as the action puts the real one there).
 * Repository settings: vars.AUREN_PLATFORMS=linux/amd64 (the arm64 build has its own test) and
 * vars.AUREN_REGISTRY_CACHE=false (this run asserts which repositories change; the registry layer
 * cache has its own test). The builder is the workflow's own AUREN_BUILDER=buildah. The machine
 * gets a private git and docker configuration (the setup action writes `git config --global`).
 */
export async function releaseWorkflowScenario(ws: ScenarioWorkspace, registryHost: string): Promise<ReleaseScenarioResult> {
  const scratch = await mkdtemp(join(tmpdir(), 'auren-release-wf-'));
  const origin = join(scratch, 'origin.git');
  await execa('git', ['init', '-q', '--bare', origin]);
  const remotes = (await ws.git('remote')).split('\n');
  if (remotes.includes('origin')) await ws.git('remote', 'set-url', 'origin', origin);
  else await ws.git('remote', 'add', 'origin', origin);

  const tagsBefore = (await ws.git('tag', '--list')).split('\n').filter(Boolean);
  const previousVersion = newestVersion(tagsBefore, 'biometric-bridge') ?? '0.1.0';
  const [major, minor] = semverKey(previousVersion);
  const expectedVersion = `${major}.${minor + 1}.0`;

  const base = (await ws.git('rev-parse', 'HEAD')).trim();
  const sha = await ws.commit('feat(bridge): drop duplicate heart-rate samples within one second', {
    'apps/biometric-bridge/biometric_bridge/dedup.py': '\n# Samples of one device within one second are duplicates.\n',
  });
  // The merge reaches origin before the workflow starts, with the history and tags it builds on.
  await ws.git('push', '-q', 'origin', 'main', '--tags');
  const originTagsBefore = await lsRemoteTags(ws, origin);

  // The clone's node_modules is a link to the shared workspace's: an `npm ci` there would empty
  // the folder every other test and engineer uses (npm ci removes node_modules first). So npm on
  // this runner refuses to install; the steps that would are stood in, and this makes any other
  // attempt fail loudly instead.
  const home = join(scratch, 'home');
  const guardBin = join(scratch, 'bin');
  await mkdir(join(home, 'docker'), { recursive: true });
  await mkdir(guardBin, { recursive: true });
  // buildah stats $DOCKER_CONFIG/config.json whenever DOCKER_CONFIG is set, so it must exist.
  await writeFile(join(home, 'docker', 'config.json'), '{"auths":{}}\n');
  const realNpm = (await execa('sh', ['-c', 'command -v npm'], { env: ws.env })).stdout.trim();
  await writeFile(
    join(guardBin, 'npm'),
    [
      '#!/bin/sh',
      'case "$1" in',
      '  ci|install|i|uninstall|prune|update|dedupe|rebuild)',
      '    echo "npm $1 refused: node_modules in this workspace is the shared workspace\'s (releaseWorkflowScenario)" >&2',
      '    exit 97 ;;',
      'esac',
      `exec ${JSON.stringify(realNpm)} "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const machineEnv: NodeJS.ProcessEnv = {
    ...ws.env,
    PATH: `${guardBin}${delimiter}${ws.env.PATH ?? ''}`,
    GIT_CONFIG_GLOBAL: join(home, 'gitconfig'),
    DOCKER_CONFIG: join(home, 'docker'),
  };
  // The workflow must set these itself, from vars and secrets.
  for (const key of ['AUREN_REGISTRY', 'AUREN_REGISTRY_USERNAME', 'AUREN_REGISTRY_PASSWORD', 'AUREN_PLATFORMS', 'AUREN_BUILDER', 'AUREN_CACHE_REPO', 'NX_BASE', 'NX_HEAD']) {
    delete machineEnv[key];
  }

  const standins = resolve(__dirname, '../../../../tools/scanner-standins');
  // setup.sh runs `npm ci` when package-lock.json is newer than node_modules' marker; after the
  // checkout's `git reset --hard` the clone's copy is newer only by its mtime, while node_modules
  // was installed from the same file (cloneWorkspace links it), so the marker's time is the truth.
  const marker = join(ws.dir, 'node_modules', '.package-lock.json');
  const checkout: StandIn = async (step, ctx) => {
    await checkoutWorkspace(step, ctx);
    if (!existsSync(marker)) throw new Error(`${marker} is missing: the shared node_modules is not installed`);
    await execa('touch', ['-r', marker, join(ws.dir, 'package-lock.json')]);
  };
  const standIns: Record<string, StandIn> = {
    'actions/checkout': checkout,
    'actions/setup-node': noEffect,
    'actions/cache': noEffect,
    'nrwl/nx-set-shas': nxSetShas({ base, head: sha }),
    'docker/login-action': noEffect,
    'docker/setup-qemu-action': noEffect,
    'actions/upload-artifact': recordUpload('artifact', 'path'),
    'github/codeql-action/upload-sarif': recordUpload('sarif', 'sarif_file'),
  };
  const runStandIns: Record<string, StandIn> = {
    'npm ci': async (_step, ctx) => {
      if (!existsSync(join(ctx.cwd, 'node_modules', '.package-lock.json'))) throw new Error('node_modules is not installed in the workspace');
    },
    'Install Trivy': async (_step, ctx) => ctx.addPath(standins),
  };

  const jobOptions = (job: string, run: string) => ({
    env: machineEnv,
    secrets: {},
    standIns,
    runStandIns,
    runnerTemp: join(scratch, `runner-${job}-${run}`),
    log: process.env.AUREN_WORKFLOW_LOG ? (line: string) => void process.stdout.write(`[${job}] ${line}\n`) : undefined,
  });
  const before = await registryTagMap(registryHost);
  const jobs: JobRun[] = [];
  const needs: Record<string, NeedsResult> = {};
  try {
    for (const job of RELEASE_JOBS) {
      const common = {
        workflowFile: '.github/workflows/release.yml',
        job,
        cwd: ws.dir,
        event: { name: 'push', ref: 'refs/heads/main', sha, before: base },
        vars: { AUREN_REGISTRY: `${registryHost}/auren`, AUREN_PLATFORMS: 'linux/amd64', AUREN_REGISTRY_CACHE: 'false' },
        needs,
      };
      // A skipped job (its if: false) runs once without a matrix, which may be empty then.
      const combinations = (await jobCondition(common)) ? await matrixCombinations(common) : [undefined];
      const runs: JobRun[] = [];
      for (const [index, matrix] of combinations.entries()) runs.push(await runWorkflowJob({ ...common, ...jobOptions(job, String(index)), matrix }));
      for (const run of runs) {
        jobs.push(run);
        if (run.result === 'failure') {
          throw new Error(`release.yml job ${run.failure}\n--- job log (end) ---\n${run.log.split('\n').slice(-80).join('\n')}`);
        }
      }
      // Outputs of matrix jobs are last-writer-wins on GitHub; none of release.yml's are read.
      needs[job] = { result: runs.every((r) => r.result === 'skipped') ? 'skipped' : 'success', outputs: runs[runs.length - 1]?.outputs ?? {} };
    }
    const after = await registryTagMap(registryHost);
    const pushedTags: Record<string, string[]> = {};
    for (const repo of Object.keys(after)) {
      pushedTags[repo] = Object.keys(after[repo])
        .filter((tag) => before[repo]?.[tag] !== after[repo][tag])
        .sort();
    }
    const gitTagsOnOrigin = await lsRemoteTags(ws, origin);
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
      workflow: await readFile(join(ws.dir, '.github/workflows/release.yml'), 'utf8'),
    };
  } finally {
    // origin, runner folders, npm guard and git/docker configuration are this scenario's alone.
    await ws.git('remote', 'remove', 'origin').catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
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
