/** Nx's project graph as far as input roots need it (`ProjectGraph` fits). */
export interface RootsGraph {
  nodes: Record<string, { data: { root: string } }>;
  dependencies: Record<string, Array<{ target: string }>>;
}

/**
 * A project's root and the roots of every project it depends on, transitively, sorted: the git
 * pathspecs whose commits decide its version. npm packages are not in `nodes` and do not count.
 */
export function inputRootsOf(graph: RootsGraph, name: string, root: string = graph.nodes[name].data.root): string[] {
  const roots = new Set<string>([root]);
  const seen = new Set<string>([name]);
  // A Set iterates over what is added while it runs.
  for (const current of seen) {
    for (const dep of (graph.dependencies[current] ?? []).filter((d) => graph.nodes[d.target] && !seen.has(d.target))) {
      seen.add(dep.target);
      roots.add(graph.nodes[dep.target].data.root);
    }
  }
  return [...roots].sort();
}
