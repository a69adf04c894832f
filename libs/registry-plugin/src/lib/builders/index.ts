import type { BuilderName } from '../config/options';
import { AurenError } from '../errors/errors';
import type { Builder, BuilderKind } from './builder';
import { buildahBuilder } from './buildah';
import { dockerBuilder } from './docker';
import { podmanBuilder } from './podman';

export type { Builder, BuilderKind, BuildRequest } from './builder';

export function createBuilder(kind: BuilderKind): Builder {
  switch (kind) {
    case 'buildah':
      return buildahBuilder();
    case 'docker':
      return dockerBuilder();
    case 'podman':
      return podmanBuilder();
    default: {
      const unhandled: never = kind;
      throw new AurenError('internal', `unknown builder ${String(unhandled)}`);
    }
  }
}

/** `auto` tries buildah (daemonless), then docker buildx, then podman. */
export const AUTO_ORDER: readonly BuilderKind[] = ['buildah', 'docker', 'podman'];

export async function resolveBuilder(name: BuilderName): Promise<Builder> {
  const candidates = name === 'auto' ? AUTO_ORDER : [name];
  for (const kind of candidates) {
    const builder = createBuilder(kind);
    if (await builder.available()) return builder;
  }
  throw new AurenError(
    'config',
    name === 'auto' ? 'no container builder found (tried buildah, docker buildx, podman)' : `builder "${name}" is not available on this machine`,
    'Install buildah (`apt-get install buildah`, or run tools/scripts/setup.sh), or set "builder" in the @auren/registry-plugin options in nx.json to one that is installed.',
  );
}
