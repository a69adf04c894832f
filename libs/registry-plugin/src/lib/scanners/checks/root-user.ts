import type { LayoutImage } from '../../registry/layout';
import type { CheckResult } from './types';

/**
 * The runtime user from the image config (`config.User`, "user[:group]"). Empty means the
 * runtime default, which is root. Only the user part decides: `10001:0` is not root.
 */
export function runsAsRoot(user: string | undefined): boolean {
  const name = (user ?? '').trim().split(':')[0];
  return name === '' || name === 'root' || name === '0';
}

export function checkRootUser(images: readonly Pick<LayoutImage, 'platform' | 'config'>[], allowRoot = false): CheckResult {
  const offenders = images
    .filter((image) => runsAsRoot(image.config.config?.User))
    .map((image) => ({ platform: image.platform, user: image.config.config?.User ?? '' }));
  const base = { id: 'root-user' as const, title: 'Runtime user is not root', details: { users: images.map((i) => ({ platform: i.platform, user: i.config.config?.User ?? '' })) } };
  if (offenders.length > 0) {
    const which = offenders.map((o) => `${o.platform} (User ${o.user ? `"${o.user}"` : 'not set'})`).join(', ');
    return {
      ...base,
      status: allowRoot ? 'warn' : 'fail',
      message: `image runs as root: ${which}${allowRoot ? ' (allowed for this project)' : ''}`,
      hint: 'Add `USER 10001` to the Dockerfile (after the steps that need root, e.g. `RUN useradd --uid 10001 app`), so the container runs unprivileged.',
    };
  }
  return { ...base, status: 'pass', message: `runs as ${[...new Set(images.map((i) => i.config.config?.User))].join(', ')}` };
}
