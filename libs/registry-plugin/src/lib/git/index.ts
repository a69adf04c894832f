export { readGitContext, branchFromEnv, type GitContext } from './context';
export { commitsSince, lastCommitTouching, type Commit, type SourceCommit } from './log';
export {
  listVersionTags,
  latestVersionTag,
  createTag,
  tagExists,
  versionTagName,
  releaseTagMessage,
  releasedDigest,
  type VersionTag,
  type CreateTagResult,
} from './tags';
export { isShallowRepository, isWorkTree } from './git';
