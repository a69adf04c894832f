import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
// Types only: loading @nx/devkit (for createNodesFromFiles, a loop with error aggregation this
// plugin does not need: nothing below throws per file) costs every Nx command about 0.15 s.
import type { CreateNodes, CreateNodesResult, TargetConfiguration } from '@nx/devkit';
import { normalizeOptions, PLUGIN_NAME as PLUGIN, type RegistryPluginOptions } from '../lib/config/options';
import { imageDir, IMAGE_RECORD, PROVENANCE_RECORD, PUSH_RECORD } from '../lib/reports/records';

/**
 * Every project with a Dockerfile gets `docker-build` → `scan` → `docker-push`, plus `version`
 * and `promote`. Build and scan are cacheable and declare their outputs (the OCI layout is a
 * file artifact); push talks to a registry and is never cached. Build and scan are steps of one
 * executor (`image`), so Nx runs the builds and scans of a command in one process (batch mode),
 * one task at a time since builds share the builder's storage and the machine's cores; the pushes
 * share another (executors/image/executor.ts says why push is separate).
 */
/** This plugin's scanner fingerprint script: beside its sources, wherever the plugin is installed. */
const FINGERPRINT_SCRIPT = join(__dirname, '..', '..', 'bin', 'scanner-fingerprint.js');

/**
 * The scan target's runtime input: the plugin's own fingerprint script, named relative to the
 * workspace root (where Nx runs it), so the input reads the same in every clone and on every
 * machine, and finds the script whether the plugin is this repository's folder or an installed
 * package. Nx takes whatever a runtime input prints, its exit code aside: if the script cannot
 * run, a constant error text would become a cache key that no longer depends on the scanner. So
 * a failure prints what failed and a value of its own run (shell pid and time): the scan is then
 * never taken from the cache, and runs, and says why.
 */
export function fingerprintCommand(workspaceRoot: string, script: string = FINGERPRINT_SCRIPT): string {
  const path = relative(workspaceRoot, script).split(sep).join('/');
  return `node ${JSON.stringify(path)} || echo "auren: the scanner fingerprint (${path}) failed; scan results are not taken from the cache (run $$ $(date +%s%N))" >&2`;
}

export function inferTargets(projectRoot: string, workspaceRoot: string, vex: readonly string[] = []): Record<string, TargetConfiguration> {
  const out = `{workspaceRoot}/${imageDir('{projectName}')}`;
  return {
    'docker-build': {
      executor: `${PLUGIN}:image`,
      cache: true,
      dependsOn: ['^docker-push'],
      // What decides the bytes, and nothing else, so any machine rebuilds the same image: the
      // sources, the base image's digest (its image.json, restored or built before this task),
      // the project's own last commit (labels and timestamps describe it), the builder and its
      // version, the platforms. Not AUREN_REGISTRY: base images are pinned by digest and no label
      // names the registry, so spelling it differently must not rebuild anything. The builder
      // identity is not in the image but is in provenance.json, an output: a pull request's
      // build must not hand its builder id to the release through a shared cache.
      inputs: [
        'production',
        '^production',
        { dependentTasksOutputFiles: `**/${IMAGE_RECORD}`, transitive: true },
        { runtime: `git log -1 --format=%H -- ${JSON.stringify(projectRoot)}` },
        { runtime: '(buildah --version; podman --version; docker buildx version) 2>/dev/null || true' },
        { env: 'AUREN_BUILDER' },
        { env: 'AUREN_PLATFORMS' },
        { env: 'AUREN_PROVENANCE_BUILDER_ID' },
        { env: 'GITHUB_WORKFLOW_REF' },
      ],
      // provenance.json: what the build was made from and when, for the provenance push attests.
      outputs: [`${out}/oci`, `${out}/${IMAGE_RECORD}`, `${out}/${PROVENANCE_RECORD}`],
      options: { step: 'build' },
      metadata: {
        description: 'Build the image into an OCI layout under dist/images/<project>.',
        technologies: ['docker'],
      },
    },
    scan: {
      executor: `${PLUGIN}:image`,
      cache: true,
      dependsOn: ['docker-build'],
      // The verdict depends on the image (its digest is in image.json), the scanner, its
      // version and its vulnerability database: the runtime input prints the last three.
      inputs: [
        { dependentTasksOutputFiles: `**/${IMAGE_RECORD}` },
        { runtime: fingerprintCommand(workspaceRoot) },
        { env: 'AUREN_SCANNER' },
        { env: 'AUREN_REGISTRY' },
        '{workspaceRoot}/nx.json',
        // The OpenVEX documents of scan.vex accept findings as scan.ignore (in nx.json) does.
        // When a statement or rule expires is the fingerprint's part (it prints how many have).
        ...vex.map((pattern) => `{workspaceRoot}/${pattern.replace(/^\.\//, '')}`),
      ],
      outputs: [`${out}/scan`],
      options: { step: 'scan' },
      metadata: { description: 'Scan the built image; writes JSON, SARIF and a table.', technologies: ['docker'] },
    },
    'docker-push': {
      executor: `${PLUGIN}:docker-push`,
      cache: false,
      dependsOn: ['scan'],
      options: {},
      metadata: { description: `Push the scanned image and write ${PUSH_RECORD}.`, technologies: ['docker'] },
    },
    version: {
      executor: `${PLUGIN}:version`,
      cache: false,
      options: {},
      metadata: { description: 'Print the current and next version, and the commits that decide it.' },
    },
    promote: {
      executor: `${PLUGIN}:promote`,
      cache: false,
      options: {},
      metadata: { description: 'Copy a pushed tag to new tags or another registry by digest, without rebuilding.' },
    },
  };
}

export const createNodes: CreateNodes<RegistryPluginOptions> = [
  '**/Dockerfile',
  async (configFiles, options, context) => {
    // Validate the options once per graph computation, so a malformed nx.json fails early
    // with the plugin's message instead of at the first executor.
    const config = normalizeOptions(options, {});
    return configFiles.map((file) => {
      const projectRoot = dirname(file);
      const hasProject = ['project.json', 'package.json'].some((name) => existsSync(join(context.workspaceRoot, projectRoot, name)));
      const result: CreateNodesResult = hasProject
        ? { projects: { [projectRoot]: { targets: inferTargets(projectRoot, context.workspaceRoot, config.scan.vex) } } }
        : {};
      return [file, result] as const;
    });
  },
];
