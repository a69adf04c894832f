/**
 * Finds the Nx invocations in a shell script (a workflow's `run:`), so a test can check that
 * each names projects and targets that exist. It understands the forms this repository uses:
 *
 *   npx nx run <project>:<target>[:<configuration>]      nx <project>:<target>
 *   nx affected -t a b c | --targets=a,b | --target a     nx run-many -t a -p x y --exclude z
 *   nx show project <project>                             nx <target> <project>
 *
 * Arguments containing a GitHub expression (`${{ … }}`) or a shell expansion (`$x`) are dynamic:
 * reported as such and not checked.
 */
export type NxCommand =
  | { kind: 'run'; project: string; target: string; text: string }
  | { kind: 'multi'; subcommand: 'affected' | 'run-many'; targets: string[]; projects: string[]; exclude: string[]; text: string }
  | { kind: 'show-project'; project: string; text: string }
  | { kind: 'other'; text: string };

const EXPR = /\$\{\{[^}]*\}\}/g;
const RUNNERS = new Set(['npx', 'pnpx', 'bunx']);
/** Commands that run the rest of the line as a command. */
const PREFIXES = new Set(['nohup', 'exec', 'time', 'env', 'sudo', 'command']);
const NX_SUBCOMMANDS = new Set([
  'add', 'affected', 'connect', 'daemon', 'exec', 'format', 'format:check', 'format:write', 'g',
  'generate', 'graph', 'import', 'init', 'list', 'migrate', 'release', 'repair', 'report', 'reset',
  'run', 'run-many', 'show', 'sync', 'sync:check', 'view-logs', 'watch',
]);

export const isDynamic = (value: string) => value.includes('$');

/** Splits a shell script into simple commands (lines, `;`, `&&`, `||`, `|`, `&`), then words. */
export function shellCommands(script: string): string[][] {
  const text = script.replace(EXPR, (m) => m.replace(/\s+/g, '')).replace(/\\\r?\n/g, ' ');
  const commands: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push(words);
    words = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else word += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '#' && !inWord) {
      while (i < text.length && text[i] !== '\n') i++;
      endCommand();
    } else if (c === '\n' || c === ';' || c === '|' || c === '&' || c === '(' || c === ')') {
      endCommand();
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return commands;
}

/** Values of a flag that takes a list: `-t a b`, `-t=a,b`, `--targets a,b`. */
function listFlag(args: string[], names: string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (!names.includes(name)) continue;
    if (eq !== -1) {
      values.push(...arg.slice(eq + 1).split(','));
      continue;
    }
    while (i + 1 < args.length && !args[i + 1].startsWith('-') && !args[i + 1].startsWith('>')) {
      values.push(...args[++i].split(','));
    }
  }
  return values.map((v) => v.trim()).filter(Boolean);
}

function parseInvocation(args: string[], text: string): NxCommand {
  const [sub, ...rest] = args;
  if (sub === undefined) return { kind: 'other', text };
  const positional = rest.filter((a) => !a.startsWith('-'));
  if (sub === 'run') {
    const [project, target] = (positional[0] ?? '').split(':');
    return target ? { kind: 'run', project, target, text } : { kind: 'other', text };
  }
  if (sub === 'affected' || sub === 'run-many') {
    return {
      kind: 'multi',
      subcommand: sub,
      targets: listFlag(rest, ['-t', '--target', '--targets']),
      projects: listFlag(rest, ['-p', '--projects']),
      exclude: listFlag(rest, ['--exclude']),
      text,
    };
  }
  if (sub === 'show' && positional[0] === 'project' && positional[1]) {
    return { kind: 'show-project', project: positional[1], text };
  }
  if (NX_SUBCOMMANDS.has(sub)) return { kind: 'other', text };
  if (sub.includes(':')) {
    const [project, target] = sub.split(':');
    return { kind: 'run', project, target, text };
  }
  // `nx <target> <project>`; `nx <target>` alone means the default project, which this
  // workspace does not set, so it is reported with an empty project.
  return { kind: 'run', project: positional[0] ?? '', target: sub, text };
}

export function findNxCommands(script: string): NxCommand[] {
  const found: NxCommand[] = [];
  for (const words of shellCommands(script)) {
    // Skip leading VAR=value assignments and runners (`npx nx`, `npm exec nx`, `yarn nx`).
    let i = 0;
    while (i < words.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]) || PREFIXES.has(words[i]))) i++;
    if (RUNNERS.has(words[i])) i++;
    else if ((words[i] === 'npm' && words[i + 1] === 'exec') || (words[i] === 'pnpm' && words[i + 1] === 'exec')) i += 2;
    else if (words[i] === 'yarn' || words[i] === 'pnpm') i++;
    if (i < words.length && words[i] === '--') i++;
    if (words[i] !== 'nx' && !/(^|\/)nx(\.js)?$/.test(words[i] ?? '')) continue;
    // Stop at the first redirection (`>> "$GITHUB_STEP_SUMMARY"`, `2>`, `< file`).
    const rest = words.slice(words[i + 1] === '--' ? i + 2 : i + 1);
    const redirect = rest.findIndex((w) => /^\d*[<>]/.test(w));
    const args = redirect === -1 ? rest : rest.slice(0, redirect);
    found.push(parseInvocation(args, words.join(' ')));
  }
  return found;
}
