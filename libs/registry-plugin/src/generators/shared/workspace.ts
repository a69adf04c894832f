import { getProjects, readNxJson, updateNxJson, type Tree } from '@nx/devkit';
import { isPluginEntry, PLUGIN_NAME, type RegistryPluginOptions } from '../../lib/config/options';
import { projectRepository, pushTargetOptions } from '../../lib/config/repository';

/** The tag the base-image generator gives its project, by which the other generators find it. */
export const BASE_IMAGE_TAG = 'type:base-image';
/** The public image the in-house base replaces (the Dockerfiles' `ARG BASE_IMAGE=` default). */
export const PUBLIC_BASE = 'debian:bookworm-slim';

export interface BaseImageProject {
  name: string;
  /** Repository below the namespace (the project's docker-push `repository`, else its name). */
  repository: string;
  /** The tag the mapping names (its first extra tag, else `bookworm`). */
  tag: string;
}

/** The workspace's in-house base image project, if it has one. */
export function findBaseImageProject(tree: Tree): BaseImageProject | undefined {
  for (const [name, project] of getProjects(tree)) {
    if (!(project.tags ?? []).includes(BASE_IMAGE_TAG)) continue;
    const push = pushTargetOptions(project) as { repository?: string; extraTags?: string[] } | undefined;
    return { name, repository: projectRepository(name, push), tag: push?.extraTags?.[0] ?? 'bookworm' };
  }
  return undefined;
}

/**
 * `baseImages` for a base image project: the public Debian image maps to what that project
 * pushes. `{registry}` and `{namespace}` stay placeholders, so AUREN_REGISTRY still moves it.
 */
export function baseImageMapping(base: BaseImageProject, namespace: string): Record<string, string> {
  return { [PUBLIC_BASE]: `{registry}/${namespace ? '{namespace}/' : ''}${base.repository}:${base.tag}` };
}

type PluginEntry = { plugin: string; options?: RegistryPluginOptions };

/** The plugin's entry in nx.json (a bare string counts, with no options). */
export function pluginEntry(tree: Tree): PluginEntry | undefined {
  const found = (readNxJson(tree)?.plugins ?? []).find(isPluginEntry);
  if (found === undefined) return undefined;
  return typeof found === 'string' ? { plugin: found } : (found as PluginEntry);
}

/** Changes the plugin's options in nx.json; the entry must exist (run init first). */
export function updatePluginOptions(tree: Tree, update: (options: RegistryPluginOptions) => RegistryPluginOptions): void {
  const nxJson = readNxJson(tree) ?? {};
  nxJson.plugins = (nxJson.plugins ?? []).map((p) => {
    if (!isPluginEntry(p)) return p;
    const options = typeof p === 'string' ? {} : ((p.options ?? {}) as RegistryPluginOptions);
    return { ...(typeof p === 'string' ? {} : p), plugin: PLUGIN_NAME, options: update(options) };
  });
  updateNxJson(tree, nxJson);
}

/** Adds lines to .gitignore that it lacks (the file is created when missing). */
export function ignoreInGit(tree: Tree, lines: string[], why: string): void {
  const current = tree.exists('.gitignore') ? (tree.read('.gitignore', 'utf8') ?? '') : '';
  const present = new Set(current.split(/\r?\n/).map((l) => l.trim()));
  const missing = lines.filter((l) => !present.has(l) && !present.has(l.replace(/\/$/, '')) && !present.has(`/${l}`));
  if (!missing.length) return;
  const prefix = current && !current.endsWith('\n') ? '\n' : '';
  tree.write('.gitignore', `${current}${prefix}\n# ${why}\n${missing.join('\n')}\n`);
}
