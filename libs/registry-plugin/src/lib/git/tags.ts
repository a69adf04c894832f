import semver from 'semver';
import { AurenError } from '../errors/errors';
import { pinnedDigest } from '../registry/digest';
import { assertRepository, git, resolveCommit } from './git';

export interface VersionTag {
  /** The git tag, `<project>@<version>`. */
  tag: string;
  /** Its version part, a valid semver string. */
  version: string;
}

export function versionTagName(project: string, version: string): string {
  return `${project}@${version}`;
}

/**
 * All `<project>@<version>` tags of the repository, oldest version first (semver order, not
 * date order). Tags whose version part is not exactly a valid semver string are ignored
 * (`auren-api@v1.2.0`, `auren-api@latest`, and build metadata `1.2.0+x`, which cannot appear in an
 * image tag anyway). Every tag counts, not only those reachable from HEAD: the next version must
 * not collide with one released from another branch.
 */
export async function listVersionTags(cwd: string, project: string): Promise<VersionTag[]> {
  await assertRepository(cwd);
  const prefix = `refs/tags/${project}@`;
  // Listing all tags and filtering here avoids glob semantics in the project name.
  const result = await git(cwd, ['for-each-ref', '--format=%(refname)', 'refs/tags/']);
  const tags: VersionTag[] = [];
  for (const ref of result.stdout.split('\n')) {
    if (!ref.startsWith(prefix)) continue;
    const version = ref.slice(prefix.length);
    if (semver.valid(version) !== version) continue;
    tags.push({ tag: ref.slice('refs/tags/'.length), version });
  }
  return tags.sort((a, b) => semver.compare(a.version, b.version));
}

/** The highest semver `<project>@<version>` tag, or undefined when the project was never released. */
export async function latestVersionTag(cwd: string, project: string): Promise<VersionTag | undefined> {
  const tags = await listVersionTags(cwd, project);
  return tags[tags.length - 1];
}

export async function tagExists(cwd: string, name: string): Promise<boolean> {
  await assertRepository(cwd);
  const result = await git(cwd, ['show-ref', '--verify', '--quiet', `refs/tags/${name}`], [1]);
  return result.exitCode === 0;
}

export type CreateTagResult = 'created' | 'exists';

/**
 * Creates an annotated tag at HEAD. Re-running the same commit is a no-op (`'exists'`), so a
 * retried pipeline is safe; the same tag at a different commit is an error, because moving a
 * release tag would silently change what a version means.
 */
export async function createTag(cwd: string, name: string, message: string): Promise<CreateTagResult> {
  await assertRepository(cwd);
  const head = await resolveCommit(cwd, 'HEAD');
  if (!head) throw new AurenError('git', `cannot tag ${name}: the repository at ${cwd} has no commits`);
  const check = await git(cwd, ['check-ref-format', `refs/tags/${name}`], [1]);
  if (check.exitCode !== 0) {
    throw new AurenError('input', `"${name}" is not a valid git tag name`, 'See `git help check-ref-format`.');
  }
  const existing = await resolveCommit(cwd, `refs/tags/${name}`);
  if (existing === head) return 'exists';
  if (existing) {
    throw new AurenError(
      'git',
      `tag ${name} already exists at ${existing.slice(0, 7)}, not at HEAD (${head.slice(0, 7)})`,
      'A released version is never moved. Fetch tags (`git fetch --tags`) so the next version is computed from it, or delete the tag deliberately if it was made by mistake.',
    );
  }
  try {
    await git(cwd, ['tag', '--annotate', '--message', message, '--end-of-options', name, head]);
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    if (/Please tell me who you are|empty ident|unable to auto-detect email/i.test(text)) {
      throw new AurenError(
        'git',
        `cannot create annotated tag ${name}: git has no identity`,
        'Set user.name and user.email (or GIT_COMMITTER_NAME / GIT_COMMITTER_EMAIL) in the CI job.',
        { cause: error },
      );
    }
    throw error;
  }
  return 'created';
}

/** A release tag's message: the project, its version, and the image pushed (`<registry>/<repository>@<digest>`). */
export function releaseTagMessage(project: string, version: string, image: string): string {
  return `${project} ${version}\n\nimage ${image}`;
}

/**
 * The digest a release tag's message records (`releaseTagMessage`), or undefined when the tag is
 * missing, lightweight, or names no image.
 */
export async function releasedDigest(cwd: string, name: string): Promise<string | undefined> {
  // A lightweight tag's contents are its commit's message: only an annotated tag counts.
  const result = await git(cwd, ['for-each-ref', '--format=%(objecttype)%0a%(contents)', `refs/tags/${name}`]);
  if (!result.stdout.startsWith('tag\n')) return undefined;
  const image = /^image (\S+)$/m.exec(result.stdout)?.[1];
  return image ? pinnedDigest(image) : undefined;
}
