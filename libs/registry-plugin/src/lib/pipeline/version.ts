import type { AurenConfig } from '../config/options';
import type { GitContext } from '../git';
import { decideVersion, type VersionDecision } from '../versioning';

export interface ResolvedVersion {
  decision: VersionDecision;
  /** The version this build carries: the next one when the app changed, else the current one. */
  version: string;
}

/**
 * The version an image carries. A changed app gets its next version; an unchanged one keeps
 * its released version, so rebuilding an unchanged app gives it the same label.
 */
export async function resolveVersion(
  workspaceRoot: string,
  project: { name: string; inputRoots: string[] },
  config: AurenConfig,
  _git: GitContext,
): Promise<ResolvedVersion> {
  const decision = await decideVersion({
    cwd: workspaceRoot,
    project: project.name,
    paths: project.inputRoots,
    initialVersion: config.tags.initialVersion,
  });
  const version = decision.next ?? decision.current ?? config.tags.initialVersion;
  return { decision, version };
}
