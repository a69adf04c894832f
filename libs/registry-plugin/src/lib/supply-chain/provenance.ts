import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { environmentValue } from '../config/precedence';
import { git } from '../git/git';
import { stripDigest } from '../registry/digest';
import type { LayerCache } from '../layer-cache/layer-cache';
import type { OciLayout } from '../registry/layout';
import { environmentSecrets, redactText, redactUserinfo } from '../errors/redact';
import type { BuildProvenance } from '../reports/records';
import { imageFileDigest } from './image-file';

/**
 * SLSA v1 build provenance (https://slsa.dev/spec/v1.0/provenance) for an image this plugin
 * built: what it was built from (the Dockerfile, context, platforms, build args and target; the
 * git commit; the base image's digest and package lock), by what (the plugin and the builder,
 * with versions) and when. The build records the inputs (`provenance.json`, written by
 * docker-build); push turns them into the predicate, and `cosign attest --type slsaprovenance1`
 * signs it as an in-toto statement about the pushed digest with the signing identity of the
 * signature (attest.ts).
 */

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** Ours: what `externalParameters` and `internalParameters` mean is defined by this file. */
export const BUILD_TYPE = 'https://auren.dev/registry-plugin/buildah@v1';
/** The builder id of a build on a workstation (CI names its own, see runnerIdentity). */
export const LOCAL_BUILDER_ID = 'https://auren.dev/registry-plugin/builder/local';
/** Where the base image (tools/base-image) records its installed packages. */
export const PACKAGE_LOCK_PATH = '/usr/share/auren/packages.lock';

/** A build arg whose name says it holds a secret is recorded without its value. */
const SECRET_ARG = /(PASSWORD|PASSWD|PASSPHRASE|TOKEN|SECRET|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL|AUTH)/i;
export const WITHHELD = '<withheld>';

let pluginVersion: string | undefined;
/** The plugin's own name and version, from its package.json (two levels above lib/ in source and in dist). */
export function pluginIdentity(): { name: string; version: string } {
  if (pluginVersion === undefined) {
    try {
      pluginVersion = (JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      pluginVersion = 'unknown';
    }
  }
  return { name: '@auren/registry-plugin', version: pluginVersion };
}

/**
 * Who ran the build: on GitHub Actions the workflow file at its ref (the id GitHub's own
 * provenance uses) and the run; else AUREN_PROVENANCE_BUILDER_ID; else a workstation.
 */
export function runnerIdentity(env: NodeJS.ProcessEnv): BuildProvenance['runner'] {
  const explicit = environmentValue(env, 'AUREN_PROVENANCE_BUILDER_ID');
  if (explicit) return { id: explicit };
  if (env.GITHUB_ACTIONS === 'true' && env.GITHUB_SERVER_URL && env.GITHUB_WORKFLOW_REF) {
    const run = env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
      ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/attempts/${env.GITHUB_RUN_ATTEMPT ?? '1'}`
      : undefined;
    return { id: `${env.GITHUB_SERVER_URL}/${env.GITHUB_WORKFLOW_REF}`, ...(run ? { invocationId: run } : {}) };
  }
  return { id: LOCAL_BUILDER_ID };
}

/** Build args as recorded: secret-looking names withheld, credentials in addresses and known secrets removed. */
export function recordedBuildArgs(buildArgs: Record<string, string>, env: NodeJS.ProcessEnv): Record<string, string> {
  const secrets = environmentSecrets(env);
  return Object.fromEntries(
    Object.entries(buildArgs).map(([name, value]) => [name, SECRET_ARG.test(name) ? WITHHELD : redactUserinfo(redactText(value, secrets))]),
  );
}

/**
 * A git remote as a provenance URI, never with credentials: `https://user:token@host/x` loses its
 * userinfo, and scp-like `git@host:org/repo.git` becomes `ssh://host/org/repo.git`.
 */
export function sourceUri(remote: string): string {
  const trimmed = remote.trim();
  if (trimmed.startsWith('/')) return `git+file://${trimmed}`;
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/.exec(trimmed);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) return `git+ssh://${scp[1]}/${scp[2].replace(/^\/+/, '')}`;
  try {
    const url = new URL(trimmed);
    url.username = '';
    url.password = '';
    return `git+${url.toString().replace(/\/$/, '')}`;
  } catch {
    return `git+${redactUserinfo(trimmed)}`;
  }
}

/**
 * What identifies a repository whatever the spelling: host and path, lower-case host, without
 * scheme, userinfo, `.git`, trailing slashes or a `@ref`. `https://github.com/o/r.git`,
 * `git+ssh://git@github.com/o/r` and `github.com/o/r` are the same repository.
 */
export function repositoryIdentity(uri: string): string {
  let text = uri.trim().replace(/^git\+/, '');
  // `git+<uri>@<ref>` (the resolvedDependencies form): the ref goes, an ssh user does not count.
  text = text.replace(/@(refs\/[^@]*|[0-9a-f]{40})$/, '');
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/.exec(text);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `${scp[1]}/${scp[2]}`;
  text = text.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^[^/@]*@/, '');
  const slash = text.indexOf('/');
  const host = slash === -1 ? text : text.slice(0, slash);
  const path = slash === -1 ? '' : text.slice(slash);
  return `${host.toLowerCase()}${path}`.replace(/\/+$/, '').replace(/\.git$/, '').replace(/\/+$/, '');
}

export interface SourceState {
  uri: string;
  commit: string;
  ref?: string;
  dirty: boolean;
}

/** The commit being built, where it comes from, and whether the build context had uncommitted changes. */
export async function readSourceState(workspaceRoot: string, paths: string[], branch: string | undefined): Promise<SourceState | undefined> {
  const head = await git(workspaceRoot, ['rev-parse', '--verify', '--quiet', 'HEAD'], [1, 128]).catch(() => undefined);
  if (!head || head.exitCode !== 0) return undefined;
  const remote = await git(workspaceRoot, ['remote', 'get-url', 'origin'], [1, 2, 128]);
  const uri = remote.exitCode === 0 && remote.stdout.trim() ? sourceUri(remote.stdout) : `git+file://${workspaceRoot}`;
  const inside = paths.map((p) => (isAbsolute(p) ? relative(workspaceRoot, p) : p) || '.');
  const status = await git(workspaceRoot, ['status', '--porcelain', '--untracked-files=normal', '--', ...inside]);
  return { uri, commit: head.stdout.trim(), ...(branch ? { ref: `refs/heads/${branch}` } : {}), dirty: status.stdout.trim() !== '' };
}

/** The package lock each platform of the image carries (the base image's), digested. */
export async function packageLocks(layout: OciLayout, cache: LayerCache): Promise<BuildProvenance['packageLocks']> {
  const locks: BuildProvenance['packageLocks'] = [];
  for (const manifest of layout.manifests) {
    if (manifest.children.length || !manifest.platform || manifest.platform === 'unknown/unknown') continue;
    const sha256 = await imageFileDigest(layout, manifest, PACKAGE_LOCK_PATH, cache);
    if (sha256) locks.push({ platform: manifest.platform, path: PACKAGE_LOCK_PATH, sha256 });
  }
  return locks.sort((a, b) => a.platform.localeCompare(b.platform));
}

interface ResourceDescriptor {
  uri?: string;
  name?: string;
  digest: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface SlsaProvenancePredicate {
  buildDefinition: {
    buildType: string;
    externalParameters: Record<string, unknown>;
    internalParameters: Record<string, unknown>;
    resolvedDependencies: ResourceDescriptor[];
  };
  runDetails: {
    builder: { id: string; version: Record<string, string> };
    metadata: { invocationId?: string; startedOn: string; finishedOn: string };
  };
}

const hexOf = (digest: string) => digest.replace(/^sha256:/, '');

/** The SLSA v1 predicate for one built image (cosign wraps it in the statement about the digest). */
export function provenancePredicate(record: BuildProvenance): SlsaProvenancePredicate {
  const dependencies: ResourceDescriptor[] = [];
  if (record.source) {
    dependencies.push({
      uri: `${record.source.uri}${record.source.ref ? `@${record.source.ref}` : ''}`,
      digest: { gitCommit: record.source.commit },
      name: 'source',
    });
  }
  const base = record.baseImage;
  if (base?.digest) {
    const name = stripDigest(base.reference);
    dependencies.push({ uri: `oci://${name}`, name: 'base-image', digest: { sha256: hexOf(base.digest) } });
  }
  for (const lock of record.packageLocks) {
    dependencies.push({
      uri: `${base ? `oci://${stripDigest(base.reference)}` : 'oci://base-image'}#${lock.path}`,
      name: `packages.lock (${lock.platform})`,
      digest: { sha256: lock.sha256 },
      annotations: { platform: lock.platform },
    });
  }
  const plugin = pluginIdentity();
  const p = record.externalParameters;
  return {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: {
        dockerfile: p.dockerfile,
        context: p.context,
        platforms: p.platforms,
        buildArgs: p.buildArgs,
        ...(p.target ? { target: p.target } : {}),
        ...(record.source ? { source: { uri: record.source.uri, ...(record.source.ref ? { ref: record.source.ref } : {}) } } : {}),
      },
      internalParameters: {
        project: record.project,
        ...(record.source?.projectCommit ? { projectCommit: record.source.projectCommit } : {}),
        ...(record.source ? { sourceTreeDirty: record.source.dirty } : {}),
        ...(base ? { baseImage: base.reference } : {}),
      },
      resolvedDependencies: dependencies,
    },
    runDetails: {
      builder: { id: record.runner.id, version: { [plugin.name]: plugin.version, [record.builder.name]: record.builder.version } },
      metadata: { ...(record.runner.invocationId ? { invocationId: record.runner.invocationId } : {}), startedOn: record.startedOn, finishedOn: record.finishedOn },
    },
  };
}

export interface ProvenanceExpectations {
  /** The repository the source must come from (any spelling of it, see repositoryIdentity). */
  sourceRepository?: string;
  /** The exact `runDetails.builder.id`. */
  builderId?: string;
}

export interface InTotoStatement {
  _type?: unknown;
  subject?: Array<{ name?: unknown; digest?: Record<string, unknown> }>;
  predicateType?: unknown;
  predicate?: Partial<SlsaProvenancePredicate>;
}

/**
 * Whether a verified statement says what the deploy requires: SLSA v1 provenance about exactly
 * this digest, from the expected repository, by the expected builder. The reason says which.
 */
export function checkProvenanceStatement(statement: InTotoStatement, digest: string, expect: ProvenanceExpectations): string | undefined {
  if (statement.predicateType !== SLSA_PROVENANCE_V1) return `its predicate type is ${String(statement.predicateType)}, not ${SLSA_PROVENANCE_V1}`;
  if (!(statement.subject ?? []).some((s) => s.digest?.['sha256'] === hexOf(digest))) return `its subject is not ${digest}`;
  const predicate = statement.predicate ?? {};
  if (expect.builderId !== undefined) {
    const id = predicate.runDetails?.builder?.id;
    if (id !== expect.builderId) return `it was built by ${String(id ?? 'an unnamed builder')}, not ${expect.builderId}`;
  }
  if (expect.sourceRepository !== undefined) {
    const wanted = repositoryIdentity(expect.sourceRepository);
    const sources = (predicate.buildDefinition?.resolvedDependencies ?? []).filter((d) => d && typeof d.uri === 'string' && d.digest?.['gitCommit']);
    if (!sources.length) return 'it names no source commit';
    if (!sources.some((d) => repositoryIdentity(d.uri as string) === wanted)) {
      return `its source is ${sources.map((d) => d.uri).join(', ')}, not ${expect.sourceRepository}`;
    }
  }
  return undefined;
}
