import { join } from 'node:path';
import { connectRegistry } from '../../lib/connect/connect';
import { formatError } from '../../lib/errors/errors';
import { readGitContext } from '../../lib/git';
import { git } from '../../lib/git/git';
import { inputRootsOf, type RootsGraph } from '../../lib/pipeline/project-roots';
import type { PushImageOptions } from '../../lib/pipeline/push-image';
import { releaseState, type ReleaseState } from '../../lib/pipeline/released';
import { mapLimit } from '../../lib/registry/concurrency';
import { imageDir, writePushRecord } from '../../lib/reports/records';
import { PUSH_TARGET } from '../../lib/config/repository';
import type { Command } from '../command';
import { pushedTable } from '../pushed';
import schema from '../schemas/released.json';
import { readWorkspace } from '../workspace';

interface ReleasedOptions {
  write?: boolean;
  json?: boolean;
}

/** The graph as this command reads it: each project's root, docker-push options and dependencies. */
type Graph = RootsGraph & { nodes: Record<string, { data: { root: string; targets?: Record<string, { options?: unknown }> } }> };

export const releasedCommand: Command = {
  summary: "Whether this commit's release is already complete in the registry (nothing for docker-push to do).",
  spec: {
    schema,
    examples: ['auren-registry released || nx run-many -t docker-push', 'auren-registry released --write'],
  },
  async run({ options }, io) {
    const { write, json } = options as ReleasedOptions;
    const { root, config } = readWorkspace(io.cwd, io.env);
    if (!root) {
      io.stderr('released: no nx.json here or above; run it in the workspace\n');
      return 2;
    }
    const say = (lines: string[], states: Record<string, ReleaseState>) =>
      io.stdout((json ? JSON.stringify(states, null, 2) : lines.join('\n')) + '\n');
    // Before Nx loads (about half a second): a repository with no release tag at all has nothing released.
    const tags = await git(root, ['for-each-ref', '--count=1', '--format=%(refname)', 'refs/tags/*@*']);
    if (!tags.stdout.trim()) {
      say(['nothing released yet: no <project>@<version> tag'], {});
      return 1;
    }
    // Nx would otherwise load the workspace's plugins (this one) in worker processes of their
    // own: half a second more on a new clone, to isolate a plugin from a process that runs nothing else.
    io.env.NX_ISOLATE_PLUGINS ??= 'false';
    process.env.NX_ISOLATE_PLUGINS ??= io.env.NX_ISOLATE_PLUGINS;
    const { createProjectGraphAsync, workspaceRoot } = await import('@nx/devkit');
    if (workspaceRoot !== root) {
      io.stderr(`released: Nx reads the workspace at ${workspaceRoot}, not ${root}; run it from the workspace root\n`);
      return 2;
    }
    const graph = (await createProjectGraphAsync({ exitOnError: false })) as unknown as Graph;
    const projects = Object.keys(graph.nodes).filter((name) => graph.nodes[name].data.targets?.[PUSH_TARGET]).sort();
    const gitContext = await readGitContext(root, io.env);
    const client = await connectRegistry(config, io.env);
    const states = await mapLimit(projects, 4, async (name): Promise<ReleaseState> => {
      const project = { name, inputRoots: inputRootsOf(graph, name), pushOptions: graph.nodes[name].data.targets?.[PUSH_TARGET]?.options as PushImageOptions | undefined };
      // Any failure (a registry that is down or refuses us) leaves the decision to the full run,
      // which reports it where it happens.
      return releaseState({ workspaceRoot: root, project, config, client, git: gitContext }).catch((error: unknown) => ({
        status: 'pending',
        reason: formatError(error, io.env).split('\n')[0],
      }));
    });
    const byProject = Object.fromEntries(projects.map((name, i) => [name, states[i]]));
    const lines = projects.map((name, i) => {
      const state = states[i];
      return state.status === 'complete'
        ? `${name}: ${state.record.version} is complete in the registry (${state.record.registry}/${state.record.repository}@${state.record.digest})`
        : `${name}: ${state.reason}`;
    });
    const complete = projects.length > 0 && states.every((s) => s.status === 'complete');
    if (!projects.length) lines.push(`no project has a ${PUSH_TARGET} target`);
    if (!complete || !write) {
      say(lines, byProject);
      return complete ? 0 : 1;
    }
    const records = states.map((s) => (s as Extract<ReleaseState, { status: 'complete' }>).record);
    for (const record of records) await writePushRecord(join(root, imageDir(record.project)), record);
    say([...lines, '', pushedTable(records, 'text')], byProject);
    return 0;
  },
};
