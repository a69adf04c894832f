import { join } from 'node:path';
import { valid as validSemver } from 'semver';
import type { AurenConfig } from '../config/options';
import { repositoryPath } from '../config/repository';
import { AurenError, inputError } from '../errors/errors';
import { createTag, releaseTagMessage, versionTagName, type GitContext } from '../git';
import { readOciLayout } from '../registry/layout';
import { executePush, planPush, type ExecutePushOptions, type PushPlan, type PushResult } from '../registry/push';
import type { RegistryClient } from '../registry/client';
import { formatBytes } from '../reports/format';
import { readImageRecord, readScanReport, writePushRecord, type PushRecord, type ScanVerdict } from '../reports/records';

export { readImageRecord };
import type { CombinedReport } from '../scanners/report';
import { planTags } from '../tags';
import { validateTag } from '../tags/grammar';
import type { ResolvedVersion } from './version';

export interface PushInput {
  workspaceRoot: string;
  project: { name: string; artifactDir: string };
  config: AurenConfig;
  client: RegistryClient;
  /** Repository path below the namespace (default: the project name). */
  repository: string;
  extraTags: string[];
  /** Push the exact tags given instead of the strategy's (e.g. `--tags=x,y`). */
  tagsOverride: string[] | undefined;
  git: GitContext;
  version: ResolvedVersion | undefined;
  requireScan: boolean;
  dryRun: boolean;
  log: (line: string) => void;
}

export interface PushOutcome {
  status: 'pushed' | 'skipped' | 'dry-run';
  reason: string;
  record?: PushRecord;
  plan?: PushPlan;
  gitTag?: { name: string; result: 'created' | 'exists' };
}

/** A version tag (`v1.2.3`) names one image forever; everything else may move. */
export function isImmutableTag(tag: string): boolean {
  return /^v\d/.test(tag) && validSemver(tag.slice(1)) !== null;
}

interface ScanSummary {
  verdict: ScanVerdict;
  scanner?: string;
  critical?: number;
  high?: number;
  digest?: string;
  cause?: string;
}

export async function readScanSummary(artifactDir: string, project?: string): Promise<ScanSummary | undefined> {
  const report = readScanReport(artifactDir, project) as CombinedReport | undefined;
  if (!report) return undefined;
  const scanned = report.vulnerabilityScan.status === 'scanned' ? report.vulnerabilityScan.scanner : undefined;
  return {
    verdict: report.verdict,
    scanner: scanned ? `${scanned.name} ${scanned.version}` : undefined,
    critical: report.gate.counts.CRITICAL,
    high: report.gate.counts.HIGH,
    digest: report.image.digest,
    ...(report.vulnerabilityScan.status === 'not-scanned' && report.vulnerabilityScan.summary ? { cause: report.vulnerabilityScan.summary } : {}),
  };
}

export async function pushToRegistry(input: PushInput): Promise<PushOutcome> {
  const { project, config, git, log } = input;
  // Tags the user typed are checked before anything else is read or sent.
  [...(input.tagsOverride ?? []), ...input.extraTags].forEach(validateTag);
  const image = await readImageRecord(project.artifactDir, project.name);
  const scan = await readScanSummary(project.artifactDir, project.name);
  if (input.requireScan) {
    if (!scan) {
      throw inputError(`${project.name}: the image has not been scanned`, `Run \`nx run ${project.name}:scan\` first (docker-push depends on it).`);
    }
    if (scan.digest && scan.digest !== image.digest) {
      throw inputError(`${project.name}: the scan report is for ${scan.digest}, not the built image ${image.digest}`, `Run \`nx run ${project.name}:scan\` again.`);
    }
    if (scan.verdict === 'blocked') {
      throw new AurenError('policy', `${project.name}: the scan blocked this image; nothing pushed`, `See ${join(project.artifactDir, 'scan', 'report.txt')}.`);
    }
  }

  const version = input.version;
  const unchanged = version !== undefined && version.decision.bump === 'none';
  let tags: string[];
  let kind = 'explicit';
  if (input.tagsOverride) {
    tags = input.tagsOverride;
  } else if (version === undefined) {
    tags = [`${git.branch.replace(/[^a-zA-Z0-9_.-]+/g, '-')}-${git.sha7}`];
  } else if (unchanged) {
    // Nothing this app depends on changed since its release: it gets no new tag. Its release
    // tag is still planned so a different image under it is caught, and a same-digest push is
    // a no-op.
    tags = [`v${version.version}`];
    kind = 'unchanged';
  } else {
    const plan = planTags({ version: version.version, git, strategy: config.tags });
    if (!plan.push) return { status: 'skipped', reason: plan.reason };
    tags = plan.tags;
    kind = plan.kind;
  }
  const all = [...tags.filter((t) => t !== 'latest'), ...input.extraTags, ...tags.filter((t) => t === 'latest')];
  const unique = [...new Set(all)];
  unique.forEach(validateTag);

  const repository = repositoryPath(config, input.repository);
  const layout = await readOciLayout(join(project.artifactDir, 'oci'));
  if (layout.digest !== image.digest) {
    throw inputError(`${project.name}: image.json names ${image.digest} but the layout holds ${layout.digest}`, `Run \`nx run ${project.name}:docker-build\` again.`);
  }
  // Layers of an in-house base image already sit in its repository on the same registry:
  // mount them instead of uploading them again.
  const mountFrom = image.baseImage?.startsWith(`${config.registry}/`)
    ? [image.baseImage.slice(config.registry.length + 1).replace(/[:@].*$/, '')]
    : [];
  const plan = await planPush(input.client, layout, { repository, tags: unique, immutableTags: isImmutableTag, mountFrom });
  log(describePlan(config.registry, repository, plan));
  if (plan.conflicts.length) {
    throw new AurenError(
      'policy',
      plan.conflicts.map((c) => `${config.registry}/${repository}:${c.tag} already names ${c.existingDigest}; this build is ${plan.digest}`).join('\n') +
        '\nVersion tags are immutable; nothing was pushed.',
      'Commit a change so the app gets a new version (nx run <app>:version shows it), or delete the tag deliberately.',
    );
  }
  if (input.dryRun) return { status: 'dry-run', reason: 'dry run: nothing pushed', plan };

  const result = await executeGuardedPush(input.client, plan, isImmutableTag);
  const record: PushRecord = {
    schemaVersion: 1,
    project: project.name,
    registry: config.registry,
    repository,
    digest: result.digest,
    tags: unique,
    version: version?.version,
    size: image.size,
    platforms: image.platforms,
    scan: { verdict: scan?.verdict ?? 'not-scanned', scanner: scan?.scanner, critical: scan?.critical, high: scan?.high, ...(scan?.cause ? { cause: scan.cause } : {}) },
    git: { sha: git.sha, branch: git.branch },
    blobs: { uploaded: result.uploaded, skipped: result.skipped, mounted: result.mounted, bytesUploaded: result.bytesUploaded },
    pushedAt: new Date().toISOString(),
    dryRun: false,
  };
  await writePushRecord(project.artifactDir, record);

  let gitTag: PushOutcome['gitTag'];
  if (version && !unchanged && kind === 'release') {
    const name = versionTagName(project.name, version.version);
    gitTag = { name, result: await createTag(input.workspaceRoot, name, releaseTagMessage(project.name, version.version, `${config.registry}/${repository}@${result.digest}`)) };
  }
  return { status: 'pushed', reason: kind, record, plan, gitTag };
}

const TAG_STATUS = { create: 'created', move: 'moved', unchanged: 'unchanged' } as const;

/**
 * `executePush`, except that an immutable tag is never reported written unless it names our
 * image afterwards. The plan's HEAD may be minutes old by the time the blobs are up, and the
 * registry has no compare-and-swap (a manifest PUT by tag simply overwrites), so each
 * immutable tag is:
 *   1. looked up again just before the write: another image under it refuses the push, and
 *      nothing is written;
 *   2. written;
 *   3. read back: another image under it means a push or promote of another image wrote the
 *      same tag at the same time; this one fails naming both digests, and the tag is left as
 *      the registry has it.
 * Immutable tags are written before the moving ones (`latest`, aliases), so a lost race never
 * moves `latest` to the losing image.
 *
 * What is left: if the other writer's step 1 comes before our write and its write after our
 * step 3, both succeed and the tag names the later image. That needs the other write to land
 * within the one round trip between its own check and write; the earlier writer's next push or
 * promote of that version then fails with the conflict (step 1 or the plan).
 */
export async function executeGuardedPush(
  client: RegistryClient,
  plan: PushPlan,
  immutable: (tag: string) => boolean,
  options: ExecutePushOptions = {},
): Promise<PushResult> {
  const guarded = plan.tags.filter((t) => t.action === 'create' && immutable(t.tag));
  if (!guarded.length || options.dryRun) return executePush(client, plan, options);
  // Content first, by digest and untagged: blobs, child manifests, the image itself.
  const content = await executePush(client, { ...plan, tags: [] }, options);
  const image = plan.manifests[plan.manifests.length - 1];
  for (const { tag } of guarded) {
    const before = await client.manifestHead(plan.repository, tag);
    if (before !== 'not-found' && before.digest !== plan.digest) throw raceConflict(plan, tag, before.digest, 'before');
    if (before === 'not-found') await client.manifestPut(plan.repository, tag, image.body, image.mediaType);
    const after = await client.manifestHead(plan.repository, tag);
    if (after === 'not-found' || after.digest !== plan.digest) throw raceConflict(plan, tag, after === 'not-found' ? undefined : after.digest, 'after');
  }
  // Then the tags that may move, `latest` last, as one more push with nothing left to send.
  const rest = plan.tags.filter((t) => !guarded.includes(t));
  if (rest.some((t) => t.action !== 'unchanged')) {
    await executePush(client, {
      ...plan,
      blobs: plan.blobs.map((b) => ({ ...b, action: 'skip' as const })),
      manifests: plan.manifests.map((m) => ({ ...m, action: 'skip' as const })),
      tags: rest,
    });
  }
  return { ...content, tags: plan.tags.map((t) => ({ tag: t.tag, status: TAG_STATUS[t.action] })) };
}

function raceConflict(plan: PushPlan, tag: string, theirs: string | undefined, when: 'before' | 'after'): AurenError {
  const name = `${plan.registry}/${plan.repository}:${tag}`;
  const found = theirs ? `names ${theirs}` : 'is gone';
  return new AurenError(
    'policy',
    when === 'before'
      ? `conflict: ${name} ${found}, not ${plan.digest}: another push or promote wrote this version tag after the plan was made. Version tags are immutable; the tag was not written.`
      : `conflict: ${name} was written as ${plan.digest} but reads back as ${theirs ?? 'nothing'}: another push or promote wrote this version tag at the same time. The registry keeps ${theirs ?? 'no image under it'}; this one is not released.`,
    `Check which image ${tag} should name (auren-registry ls ${plan.repository}); then give this build a new version, or delete the tag deliberately and push again.`,
  );
}

export function describePlan(registry: string, repository: string, plan: PushPlan): string {
  const upload = plan.blobs.filter((b) => b.action === 'upload');
  const lines = [
    `push ${registry}/${repository}@${plan.digest}`,
    `  blobs: ${upload.length} to upload (${formatBytes(plan.bytesToUpload)}), ${plan.blobs.length - upload.length} already there`,
    `  manifests: ${plan.manifests.filter((m) => m.action === 'put').length} to put, ${plan.manifests.filter((m) => m.action === 'skip').length} already there`,
    ...plan.tags.map((t) => `  tag ${t.tag}: ${t.action}${t.previousDigest ? ` (was ${t.previousDigest})` : ''}`),
    ...plan.conflicts.map((c) => `  tag ${c.tag}: CONFLICT (${c.reason})`),
  ];
  return lines.join('\n');
}
