import type { CleanupResult } from './cleanup';

/** The plan as text: per repository, each tag with its digest, kept or deleted, and the rule. */
export function formatPlan(result: CleanupResult): string {
  const lines: string[] = [];
  for (const plan of result.plans) {
    lines.push(`${result.registry}/${plan.repository}`);
    if (!plan.tags.length && !plan.images.length) lines.push('  (empty)');
    const width = Math.max(3, ...plan.tags.map((t) => t.tag.length));
    for (const t of plan.tags) {
      lines.push(`  ${t.action === 'keep' ? 'keep  ' : 'DELETE'} ${t.tag.padEnd(width)} ${t.digest.slice(0, 19)}  ${t.rule}: ${t.detail}`);
    }
    for (const image of plan.images.filter((i) => i.tags.length === 0)) {
      lines.push(`  ${image.action === 'keep' ? 'keep  ' : 'DELETE'} ${'(untagged)'.padEnd(width)} ${image.digest.slice(0, 19)}  ${image.rule}: ${image.detail}`);
    }
  }
  const s = result.summary;
  lines.push(
    '',
    `${s.repositories} repositories: ${s.tagsDeleted} tags / ${s.imagesDeleted} images to delete, ${s.tagsKept} tags / ${s.imagesKept} images kept.`,
  );
  if (!result.applied) lines.push('Dry run: nothing was deleted. Run again with --apply to delete.');
  else if (result.journal) {
    const count = (o: string) => result.outcomes.filter((x) => x.outcome === o).length;
    lines.push(
      `Applied: ${count('deleted')} deleted, ${count('already-gone')} already gone, ${count('skipped')} skipped.`,
      `Undo journal: ${result.journal}${result.resumedJournal ? ' (resumed an unfinished run)' : ''} — restore with \`nx run registry:restore --journal ${result.journal}\` before garbage collection runs.`,
    );
  }
  return lines.join('\n');
}

/** JSON for machines: plans with full digests plus outcomes. */
export function planJson(result: CleanupResult): string {
  return JSON.stringify(result, null, 2);
}
