import type { ExecutorContext } from '@nx/devkit';
import { logger } from '../shared/logger';
import { readGitContext } from '../../lib/git';
import { resolveVersion } from '../../lib/pipeline/version';
import { planTags } from '../../lib/tags';
import { loadConfig, projectInfo, runExecutor } from '../shared/context';
import type { VersionExecutorSchema } from './schema';

export default async function versionExecutor(options: VersionExecutorSchema, context: ExecutorContext) {
  return runExecutor(async () => {
    const config = loadConfig(context);
    const project = projectInfo(context);
    const git = await readGitContext(context.root, process.env);
    const { decision, version } = await resolveVersion(context.root, project, config, git);
    const tags = decision.bump === 'none' ? undefined : planTags({ version, git, strategy: config.tags });
    if (options.json) {
      process.stdout.write(JSON.stringify({ ...decision, version, tags: tags?.tags ?? [], branch: git.branch }, null, 2) + '\n');
      return true;
    }
    logger.info(`${project.name}: current ${decision.current ?? '(none)'}, next ${decision.next ?? '(unchanged)'} — ${decision.reason}`);
    for (const commit of decision.commits) logger.info(`  ${commit.sha7} ${commit.effect.padEnd(5)} ${commit.subject}`);
    if (tags) logger.info(`  tags on ${git.branch}: ${tags.tags.join(', ')}${tags.push ? '' : ' (not pushed: ' + tags.reason + ')'}`);
    return true;
  });
}
