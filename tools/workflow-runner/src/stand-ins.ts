import execa from 'execa';
import type { StandIn } from './runner';

/** For actions whose effect is already true on this machine (Node installed, QEMU not needed…). */
export const noEffect: StandIn = async () => undefined;

/**
 * nrwl/nx-set-shas: exports NX_BASE (the last commit whose workflow run succeeded) and NX_HEAD
 * (HEAD) to GITHUB_ENV and sets the `base` / `head` outputs (its README, "Outputs").
 */
export function nxSetShas(shas: { base: string; head: string }): StandIn {
  return async (_step, ctx) => {
    ctx.setEnv('NX_BASE', shas.base);
    ctx.setEnv('NX_HEAD', shas.head);
    ctx.setOutput('base', shas.base);
    ctx.setOutput('head', shas.head);
    ctx.log(`nx-set-shas (stand-in): NX_BASE=${shas.base} NX_HEAD=${shas.head}`);
  };
}

/**
 * actions/checkout, where the workspace already is the checkout: it checks that HEAD is the
 * event's commit and, like the action's default `clean: true` (`git clean -ffdx` and
 * `git reset --hard HEAD`), leaves no file of an earlier run behind, so records in dist/ are this
 * run's own. The shared node_modules link survives, as a runner's `npm ci` would recreate it.
 */
export const checkoutWorkspace: StandIn = async (_step, ctx) => {
  const head = (await execa('git', ['rev-parse', 'HEAD'], { cwd: ctx.cwd, env: ctx.env })).stdout.trim();
  if (head !== ctx.event.sha) throw new Error(`the workspace is at ${head}, the event is for ${ctx.event.sha}; check out the event's commit first`);
  if (ctx.with.clean !== 'false') {
    await execa('git', ['reset', '-q', '--hard', 'HEAD'], { cwd: ctx.cwd, env: ctx.env });
    await execa('git', ['clean', '-q', '-ffdx', '-e', '/node_modules'], { cwd: ctx.cwd, env: ctx.env });
  }
};

/** actions/upload-artifact (`with.path`) and upload-sarif (`with.sarif_file`): record what would be uploaded. */
export const recordUpload =
  (kind: string, input: string): StandIn =>
  async (_step, ctx) => {
    ctx.record(kind, ctx.with[input] ?? '');
  };
