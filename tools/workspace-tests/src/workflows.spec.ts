import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { findNxCommands, isDynamic, type NxCommand } from './nx-commands';
import { formatErrors, fromRoot, listFiles, loadProjectTargets, readYaml, schemaValidator, workspaceRoot } from './workspace';

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  permissions?: Record<string, string> | string;
  steps?: Step[];
  uses?: string;
  needs?: string | string[];
  if?: string;
}
interface Workflow {
  permissions?: Record<string, string> | string;
  jobs: Record<string, Job>;
}

const workflowFiles = listFiles(fromRoot('.github', 'workflows'), /\.ya?ml$/);
const actionFiles = listFiles(fromRoot('.github', 'actions'), /.*/)
  .map((dir) => [join(dir, 'action.yml'), join(dir, 'action.yaml')].find((f) => existsSync(f)))
  .filter((f): f is string => f !== undefined);
const rel = (file: string) => relative(workspaceRoot, file);

/** Every step of every workflow job and composite action, with where it came from. */
function allSteps(): { where: string; step: Step }[] {
  const steps: { where: string; step: Step }[] = [];
  for (const file of workflowFiles) {
    const workflow = readYaml(file) as Workflow;
    for (const [id, job] of Object.entries(workflow.jobs ?? {})) {
      (job.steps ?? []).forEach((step, i) => steps.push({ where: `${rel(file)} jobs.${id}.steps[${i}]`, step }));
    }
  }
  for (const file of actionFiles) {
    const action = readYaml(file) as { runs?: { steps?: Step[] } };
    (action.runs?.steps ?? []).forEach((step, i) => steps.push({ where: `${rel(file)} runs.steps[${i}]`, step }));
  }
  return steps;
}

describe('GitHub workflows', () => {
  it('exist', () => {
    expect(workflowFiles.map((f) => basename(f))).toEqual(
      expect.arrayContaining(['pr.yml', 'release.yml', 'biometric-scan.yml', 'registry-upkeep.yml']),
    );
  });

  const validate = schemaValidator('github-workflow.json');
  it('the schema really constrains (a job without runs-on is rejected)', () => {
    expect(validate({ on: 'push', jobs: { build: { steps: [{ run: 'true' }] } } })).toBe(false);
  });

  it.each(workflowFiles.map((f) => [rel(f), f]))('%s matches the GitHub workflow schema', (_name, file) => {
    const ok = validate(readYaml(file));
    if (!ok) throw new Error(`${rel(file)} does not match the workflow schema:\n${formatErrors(validate)}`);
  });

  it('local actions are composite actions whose run steps name a shell', () => {
    expect(actionFiles.length).toBeGreaterThan(0);
    for (const file of actionFiles) {
      const action = readYaml(file) as { runs?: { using?: string; steps?: (Step & { shell?: string })[] } };
      expect(action.runs?.using).toBe('composite');
      for (const step of action.runs?.steps ?? []) {
        if (step.run !== undefined) expect({ file: rel(file), shell: step.shell }).toEqual({ file: rel(file), shell: 'bash' });
      }
    }
  });

  it('every local action, script and file a step uses exists', () => {
    const missing: string[] = [];
    for (const { where, step } of allSteps()) {
      if (step.uses?.startsWith('./')) {
        const target = fromRoot(step.uses);
        const ok = step.uses.endsWith('.yml') ? existsSync(target) : ['action.yml', 'action.yaml'].some((f) => existsSync(join(target, f)));
        if (!ok) missing.push(`${where}: uses ${step.uses}`);
      }
      for (const match of (step.run ?? '').matchAll(/\b(?:bash|sh|node)\s+((?:tools|\.github|libs|apps)\/[^\s"';|&]+)/g)) {
        if (!isDynamic(match[1]) && !existsSync(fromRoot(match[1]))) missing.push(`${where}: ${match[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('secrets reach scripts only through env, never inline in a run script', () => {
    const inline = allSteps()
      .filter(({ step }) => /\$\{\{[^}]*secrets\./.test(step.run ?? ''))
      .map(({ where }) => where);
    expect(inline).toEqual([]);
  });

  it('grant write permissions only to the jobs that need them', () => {
    const problems: string[] = [];
    for (const file of workflowFiles) {
      const workflow = readYaml(file) as Workflow;
      const topLevel = workflow.permissions;
      if (topLevel === 'write-all' || (typeof topLevel === 'object' && Object.values(topLevel).includes('write'))) {
        problems.push(`${rel(file)}: workflow-level write permission`);
      }
      for (const [id, job] of Object.entries(workflow.jobs)) {
        const perms = typeof job.permissions === 'object' ? job.permissions : {};
        const runs = (job.steps ?? []).map((s) => s.run ?? '').join('\n');
        const uses = (job.steps ?? []).map((s) => s.uses ?? '');
        if (perms['security-events'] === 'write' && !uses.some((u) => u.startsWith('github/codeql-action/upload-sarif'))) {
          problems.push(`${rel(file)} jobs.${id}: security-events: write without a SARIF upload`);
        }
        if (uses.some((u) => u.startsWith('github/codeql-action/upload-sarif')) && perms['security-events'] !== 'write') {
          problems.push(`${rel(file)} jobs.${id}: uploads SARIF without security-events: write`);
        }
        if (perms.contents === 'write' && !/push-tags\.sh push|git push/.test(runs)) {
          problems.push(`${rel(file)} jobs.${id}: contents: write but pushes nothing to git`);
        }
        if (job.permissions === undefined && topLevel === undefined) {
          problems.push(`${rel(file)} jobs.${id}: no permissions declared (the default token may be read-write)`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('release runs queue per branch instead of cancelling each other', () => {
    const release = readYaml(fromRoot('.github', 'workflows', 'release.yml')) as { concurrency?: unknown };
    expect(release.concurrency).toEqual({ group: 'release-${{ github.ref }}', 'cancel-in-progress': false });
  });

  it('release ships through one path: every pushing job runs nx affected -t docker-push with buildah, no buildx, no side loop', () => {
    // A step that runs the docker-push target (not one that only lists projects having it).
    const PUSHES = /-t docker-push|:docker-push/;
    const file = fromRoot('.github', 'workflows', 'release.yml');
    const release = readYaml(file) as Workflow & { env?: Record<string, string> };
    expect(release.env?.AUREN_BUILDER).toBe('buildah');
    expect(readFileSync(file, 'utf8')).not.toMatch(/buildx|release-images|excludeTaskDependencies/);
    const pushing = Object.entries(release.jobs).filter(([, job]) => (job.steps ?? []).some((s) => PUSHES.test(s.run ?? '')));
    expect(pushing.map(([id]) => id).sort()).toEqual(['base-image', 'release', 'release-fanout']);
    for (const [id, job] of pushing) {
      const pushes = (job.steps ?? []).map((s) => s.run ?? '').filter((run) => PUSHES.test(run));
      expect({ id, pushes: pushes.map((run) => /^npx nx affected -t docker-push(\s|$)/.test(run.trim())) }).toEqual({ id, pushes: [true] });
      // A job without QEMU could not build the arm64 half of AUREN_PLATFORMS.
      expect({ id, qemu: (job.steps ?? []).some((s) => s.uses?.startsWith('docker/setup-qemu-action@')) }).toEqual({ id, qemu: true });
    }
  });
});

describe('the supply chain in workflows', () => {
  const PUSHES = /-t docker-push|:docker-push/;
  const SCANS = /-t (?:[\w-]+ )*(?:scan|docker-push)\b|:(?:scan|docker-push)\b|registry:deploy-manifest/;
  const release = readYaml(fromRoot('.github', 'workflows', 'release.yml')) as Workflow;
  const stepIndex = (job: Job, test: (step: Step) => boolean) => (job.steps ?? []).findIndex(test);

  it('every release job that pushes signs what it pushes: OIDC for keyless, the product tools and the signing identity before the push', () => {
    const pushing = Object.entries(release.jobs).filter(([, job]) => (job.steps ?? []).some((s) => PUSHES.test(s.run ?? '')));
    expect(pushing.length).toBe(3);
    for (const [id, job] of pushing) {
      const perms = job.permissions as Record<string, string>;
      const tools = stepIndex(job, (s) => s.uses === './.github/actions/setup' && s.with?.['product-tools'] === 'true');
      const signing = stepIndex(job, (s) => s.uses === './.github/actions/signing' && s.with?.purpose === 'sign');
      const push = stepIndex(job, (s) => PUSHES.test(s.run ?? ''));
      expect({ id, idToken: perms['id-token'], tools: tools >= 0, signing: signing >= 0, order: tools < signing && signing < push }).toEqual({
        id,
        idToken: 'write',
        tools: true,
        signing: true,
        order: true,
      });
      // The key's text and reference reach only the signing step; its password the job.
      expect({ id, env: job.steps?.[signing].env }).toEqual({
        id,
        env: { SIGNING_KEY: '${{ secrets.AUREN_SIGNING_KEY }}', SIGNING_PUBLIC_KEY: '${{ vars.AUREN_SIGNING_PUBLIC_KEY }}' },
      });
      expect({ id, password: (job as { env?: Record<string, string> }).env?.COSIGN_PASSWORD }).toEqual({ id, password: '${{ secrets.COSIGN_PASSWORD }}' });
    }
  });

  it('the deploy job waits for every pushing job, and pins nothing that lacks a signature or provenance from this repository and workflow', () => {
    const deploy = release.jobs.deploy;
    expect(deploy).toBeDefined();
    expect([deploy.needs].flat().sort()).toEqual(['base-image', 'plan', 'release', 'release-fanout']);
    expect(deploy.permissions).toEqual({ contents: 'read' });
    const runs = (deploy.steps ?? []).map((s) => (s.run ?? '').replace(/\s+/g, ' ').trim());
    const gate = runs.filter((run) => run.includes('registry:deploy-manifest'));
    expect(gate).toEqual([
      'npx nx run registry:deploy-manifest --requireSignature --requireProvenance --sourceRepository="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY" --builderId="$GITHUB_SERVER_URL/$GITHUB_WORKFLOW_REF"',
    ]);
    const verify = (deploy.steps ?? []).find((s) => s.uses === './.github/actions/signing');
    expect(verify?.with).toEqual({ purpose: 'verify' });
    // The private key's text never reaches the deploy: only a reference, or that one is configured.
    expect(verify?.env?.SIGNING_KEY).toMatch(/^\$\{\{ !startsWith\(secrets\.AUREN_SIGNING_KEY, '-----BEGIN'\) && secrets\.AUREN_SIGNING_KEY \|\| '' \}\}$/);
    // The records it pins come from every pushing job.
    const uploads = Object.entries(release.jobs)
      .filter(([id]) => id === 'release' || id === 'release-fanout')
      .map(([id, job]) => [id, (job.steps ?? []).find((s) => s.uses?.startsWith('actions/upload-artifact@'))?.with?.name]);
    expect(uploads).toEqual([
      ['release', 'push-records-release'],
      ['release-fanout', 'push-records-${{ matrix.project }}'],
    ]);
    const download = (deploy.steps ?? []).find((s) => s.uses?.startsWith('actions/download-artifact@'));
    expect(download?.with).toEqual({ pattern: 'push-records-*', 'merge-multiple': true, path: 'dist/images' });
  });

  it('id-token: write only where something is signed', () => {
    const granted: string[] = [];
    for (const file of workflowFiles) {
      const workflow = readYaml(file) as Workflow;
      for (const [id, job] of Object.entries(workflow.jobs)) {
        const perms = typeof job.permissions === 'object' ? job.permissions : {};
        if (perms['id-token'] === 'write') granted.push(`${rel(file)} jobs.${id}`);
      }
    }
    expect(granted.sort()).toEqual(['.github/workflows/release.yml jobs.base-image', '.github/workflows/release.yml jobs.release', '.github/workflows/release.yml jobs.release-fanout']);
  });

  it('trivy and cosign come from the one pinned list (setup.sh --product-tools) in every job that scans, pushes or verifies', () => {
    const problems: string[] = [];
    for (const { where, step } of allSteps()) {
      const text = `${step.uses ?? ''}\n${step.run ?? ''}`;
      if (/releases\/download|aquasecurity\/(trivy|setup-trivy)|sigstore\/cosign-installer|get\.trivy|install\.sh/.test(text)) problems.push(`${where}: installs a scanner or signer outside tools/test-tools.txt`);
    }
    for (const file of workflowFiles) {
      const workflow = readYaml(file) as Workflow;
      for (const [id, job] of Object.entries(workflow.jobs)) {
        const steps = job.steps ?? [];
        const needsTools = steps.some((s) => SCANS.test(s.run ?? '')) || steps.some((s) => s.uses === './.github/actions/local-registry');
        const hasTools = steps.some((s) => s.uses === './.github/actions/setup' && s.with?.['product-tools'] === 'true');
        if (needsTools && !hasTools) problems.push(`${rel(file)} jobs.${id}: scans, pushes or verifies without the product tools`);
      }
    }
    const setup = readYaml(fromRoot('.github', 'actions', 'setup', 'action.yml')) as { runs: { steps: Step[] } };
    expect(setup.runs.steps.map((s) => s.run ?? '').filter((run) => run.includes('setup.sh --product-tools'))).toHaveLength(1);
    expect(problems).toEqual([]);
  });

  it('pull requests send each scanned image\'s SARIF to code scanning, from the file the scan writes', () => {
    const pr = readYaml(fromRoot('.github', 'workflows', 'pr.yml')) as Workflow;
    const upload = Object.values(pr.jobs)
      .flatMap((job) => job.steps ?? [])
      .find((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@'));
    expect(upload?.with?.sarif_file).toBe('dist/images/${{ matrix.project }}/scan/report.sarif');
  });
});

describe('Nx commands in workflows', () => {
  let targets: Map<string, Set<string>>;
  beforeAll(() => {
    targets = loadProjectTargets();
  });

  // Workflow steps, composite actions, and the CI scripts they call.
  const scripts = listFiles(fromRoot('tools', 'ci'), /\.sh$/).map((file) => ({ where: rel(file), script: readFileSync(file, 'utf8') }));
  const commands = [
    ...allSteps().map(({ where, step }) => ({ where, script: step.run ?? '' })),
    ...scripts,
  ].flatMap(({ where, script }) => findNxCommands(script).map((command) => ({ where, command })));

  it('there are some to check', () => {
    expect(commands.filter(({ command }) => command.kind !== 'other').length).toBeGreaterThan(5);
  });

  function problemsOf(command: NxCommand): string[] {
    const problems: string[] = [];
    const checkProject = (project: string) => {
      if (isDynamic(project)) return false;
      if (!targets.has(project)) {
        problems.push(`project "${project}" does not exist (projects: ${[...targets.keys()].sort().join(', ')})`);
        return false;
      }
      return true;
    };
    switch (command.kind) {
      case 'run':
        if (isDynamic(command.target)) break;
        if (isDynamic(command.project)) {
          // `nx run ${{ matrix.project }}:docker-push`: at least some project must have the target.
          if (![...targets.values()].some((t) => t.has(command.target))) problems.push(`no project has a target "${command.target}"`);
          break;
        }
        if (checkProject(command.project) && !targets.get(command.project)!.has(command.target)) {
          problems.push(
            `project "${command.project}" has no target "${command.target}" (it has: ${[...targets.get(command.project)!].sort().join(', ')})`,
          );
        }
        break;
      case 'multi': {
        if (command.targets.length === 0) problems.push('no -t/--targets');
        // Patterns (globs, tag:…) select projects; only plain names are checked.
        const named = (list: string[]) => list.filter((p) => /^[\w@./-]+$/.test(p) && !p.includes('*'));
        named(command.exclude).forEach(checkProject);
        const scope = named(command.projects).filter(checkProject);
        const candidates = scope.length ? scope : [...targets.keys()];
        for (const target of command.targets.filter((t) => !isDynamic(t))) {
          if (!candidates.some((p) => targets.get(p)!.has(target))) {
            problems.push(`no project ${scope.length ? `among ${scope.join(', ')} ` : ''}has a target "${target}"`);
          }
        }
        break;
      }
      case 'show-project':
        checkProject(command.project);
        break;
      case 'other':
        break;
      default: {
        const unhandled: never = command;
        throw new Error(`unhandled command ${JSON.stringify(unhandled)}`);
      }
    }
    return problems;
  }

  it.each(commands.map(({ where, command }) => [command.text, where, command] as const))(
    '%s (%s)',
    (_text, where, command) => {
      expect({ where, problems: problemsOf(command) }).toEqual({ where, problems: [] });
    },
  );
});
