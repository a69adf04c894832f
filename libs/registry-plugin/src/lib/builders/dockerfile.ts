import { inputError } from '../errors/errors';

/**
 * The Dockerfile convention: `ARG BASE_IMAGE=<public image>` then `FROM ${BASE_IMAGE}`. The
 * plugin maps the public default to a mirrored or locally built image through the `baseImages`
 * option, so the same Dockerfile builds on machines that cannot reach Docker Hub.
 */
export interface DockerfileInfo {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string | undefined>;
  /** Image references of every FROM, as written (variables unexpanded). */
  froms: string[];
  stages: string[];
}

export function parseDockerfile(content: string, origin: string): DockerfileInfo {
  const lines = content.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  const globalArgs: Record<string, string | undefined> = {};
  const froms: string[] = [];
  const stages: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [instruction, ...rest] = line.split(/\s+/);
    const upper = instruction.toUpperCase();
    if (upper === 'ARG' && froms.length === 0) {
      for (const declaration of rest) {
        const eq = declaration.indexOf('=');
        const name = eq === -1 ? declaration : declaration.slice(0, eq);
        const value = eq === -1 ? undefined : declaration.slice(eq + 1).replace(/^"(.*)"$/, '$1');
        globalArgs[name] = value;
      }
    } else if (upper === 'FROM') {
      const args = rest.filter((word) => !word.startsWith('--'));
      if (!args[0]) throw inputError(`${origin}: FROM without an image`, 'Write FROM ${BASE_IMAGE} AS <stage>.');
      froms.push(args[0]);
      if (args[1]?.toUpperCase() === 'AS' && args[2]) stages.push(args[2]);
    }
  }
  if (froms.length === 0) {
    throw inputError(`${origin} has no FROM instruction`, 'Start the Dockerfile with ARG BASE_IMAGE=debian:bookworm-slim and FROM ${BASE_IMAGE}.');
  }
  return { globalArgs, froms, stages };
}

/**
 * Build args that replace public base images by their configured mapping. Only ARGs used in a
 * FROM are considered, and an explicit build arg from the target options always wins.
 */
export function baseImageBuildArgs(info: DockerfileInfo, mapping: Record<string, string>): Record<string, string> {
  const args: Record<string, string> = {};
  for (const [name, value] of Object.entries(info.globalArgs)) {
    const usedInFrom = info.froms.some((from) => from.includes(`\${${name}}`) || from.includes(`$${name}`));
    if (usedInFrom && value !== undefined && mapping[value]) args[name] = mapping[value];
  }
  return args;
}
