export {
  parseConventionalCommit,
  hasBreakingFooter,
  commitEffect,
  bumpFor,
  isMergeCommit,
  type ConventionalCommit,
  type CommitEffect,
} from './conventional';
export { decideVersion, type VersionDecision, type VersionBump, type DecideVersionInput } from './decide';
