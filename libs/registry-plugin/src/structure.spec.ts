/**
 * The plugin's shape, checked on every run so that it cannot drift back: use cases live in lib/,
 * executors and CLI commands are thin adapters over them, lib/'s folders form no circles, and
 * the ideas that once had several homes (the OCI descriptor, the digest grammar, comma lists)
 * have one. The checks read the source as text; each failure names the file and the line.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const SRC = __dirname;
const MAX_EXECUTOR_LINES = 60;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return walk(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Test code: specs, test-only modules (`*.testing.ts`, the shared rig in `testing/`) and the e2e suites. */
function isTestCode(path: string): boolean {
  const rel = relative(SRC, path).split(sep);
  return /\.(spec|testing)\.ts$/.test(path) || rel.includes('testing') || rel[0] === 'e2e';
}

const files = walk(SRC);
const code = files.filter((f) => !isTestCode(f));
const rel = (path: string) => relative(SRC, path).split(sep).join('/');
const source = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));

/** The `from '…'` and `import('…')` specifiers of a file, resolved to paths relative to src/. */
function imports(path: string): string[] {
  const text = source.get(path) ?? '';
  const specs = [...text.matchAll(/(?:from\s+|import\(\s*|require\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  const dir = rel(path).split('/').slice(0, -1);
  return specs.map((spec) => {
    const parts = [...dir];
    for (const piece of spec.split('/')) {
      if (piece === '..') parts.pop();
      else if (piece !== '.') parts.push(piece);
    }
    return parts.join('/');
  });
}

/** `lib/<folder>/…` → `<folder>`; a file directly in lib/ is its own folder. */
const libFolder = (path: string) => (path.startsWith('lib/') ? path.split('/')[1].replace(/\.ts$/, '') : undefined);

/** Lines of `text` matching `re`, as `file:line: text` for a readable failure. */
function matching(pattern: RegExp, among: string[]): string[] {
  return among.flatMap((file) =>
    (source.get(file) ?? '')
      .split('\n')
      .map((line, i) => ({ line, i }))
      .filter(({ line }) => pattern.test(line))
      .map(({ line, i }) => `${rel(file)}:${i + 1}: ${line.trim()}`),
  );
}

describe('the plugin keeps its shape', () => {
  it('lib/ never imports from executors/ or cli/', () => {
    const offending = code
      .filter((f) => rel(f).startsWith('lib/'))
      .flatMap((f) => imports(f).filter((target) => /^(executors|cli)\//.test(target)).map((target) => `${rel(f)} -> ${target}`));
    expect(offending).toEqual([]);
  });

  it('no two folders of lib/ import each other', () => {
    const edges = new Set<string>();
    for (const file of code.filter((f) => rel(f).startsWith('lib/'))) {
      const from = libFolder(rel(file));
      for (const target of imports(file)) {
        const to = libFolder(target);
        if (from && to && from !== to) edges.add(`${from} -> ${to}`);
      }
    }
    const circles = [...edges].filter((edge) => {
      const [from, to] = edge.split(' -> ');
      return from < to && edges.has(`${to} -> ${from}`);
    });
    expect(circles).toEqual([]);
  });

  it(`every executor file is a thin adapter (at most ${MAX_EXECUTOR_LINES} lines)`, () => {
    const long = code
      .filter((f) => rel(f).startsWith('executors/') && !f.endsWith('.d.ts'))
      .map((f) => ({ file: rel(f), lines: (source.get(f) ?? '').trimEnd().split('\n').length }))
      .filter(({ lines }) => lines > MAX_EXECUTOR_LINES);
    expect(long).toEqual([]);
  });

  it('`Descriptor` is declared once, in lib/registry', () => {
    const declarations = matching(/^\s*(export\s+)?(interface\s+Descriptor\b|type\s+Descriptor\s*=)/, code);
    expect(declarations).toEqual([expect.stringMatching(/^lib\/registry\//)]);
  });

  it('the digest grammar is written once, in lib/registry/digest.ts', () => {
    // A hex run of a digest's length in a pattern; lib/scanners/checks/secrets.ts matches tokens.
    const grammars = matching(/\[a-f0-9\]\{(64|128)\}|sha256:\[/, code.filter((f) => !rel(f).endsWith('scanners/checks/secrets.ts')));
    expect(grammars.every((line) => line.startsWith('lib/registry/digest.ts:'))).toBe(true);
    expect(grammars.length).toBeGreaterThan(0);
  });

  it('comma lists are split in one function (lib/config/lists.ts)', () => {
    // HTTP header values (challenge parameters, Link) have their own grammar and parsers.
    const headerParsers = ['lib/registry/auth/challenge.ts', 'lib/providers/http.ts'];
    const splits = matching(/\.split\(\s*(','|",")\s*\)|\.split\(\/\\s\*,/, code.filter((f) => !headerParsers.includes(rel(f))));
    expect(splits.filter((line) => !line.startsWith('lib/config/lists.ts:'))).toEqual([]);
  });

  it('test-only modules are named `*.testing.ts`, so the package build and the guards above know them by name', () => {
    const misnamed = files
      .map(rel)
      .filter((f) => (f.split('/').includes('testing') || f.startsWith('e2e/') || /(^|\/)testing-/.test(f)) && !/\.(spec|testing)\.ts$/.test(f));
    expect(misnamed).toEqual([]);
  });

  it('no comment points outside the repository (a design file, a decision or an issue number)', () => {
    // This file names the patterns it looks for, so it is the one file not read.
    expect(matching(/DESIGN(\.md)?\b|\bdecision \d+|\b[Ii]ssue \d+/, files.filter((f) => f !== __filename))).toEqual([]);
  });

  it('Nx loads the plugin, every executor and every generator through the transpile cache (bin/register.js), not its own TypeScript loader', () => {
    // Nx resolves `./executor` to executor.js before executor.ts (and `./generator` alike), and
    // the package's "main". Without a root tsconfig.base.json (below) Nx's own loader cannot
    // load a .ts entry at all: `nx g` would fail.
    const shim = (entry: string) => `require('${entry}/bin/register');\n`;
    const entries = ['executors/executor', 'generators/generator'].flatMap((kind) => {
      const [folder, file] = kind.split('/');
      return readdirSync(join(SRC, folder)).filter((name) => existsSync(join(SRC, folder, name, `${file}.ts`))).map((name) => join(folder, name, file));
    });
    expect(entries.filter((entry) => entry.startsWith('generators/')).length).toBeGreaterThanOrEqual(4);
    const slow = entries.filter((entry) => {
      const js = join(SRC, `${entry}.js`);
      const name = entry.split('/').pop() as string;
      return !existsSync(js) || !readFileSync(js, 'utf8').includes(`${shim('../../..')}module.exports = require('./${name}.ts');`);
    });
    expect(slow).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(SRC, '..', 'package.json'), 'utf8')) as { main: string };
    expect(pkg.main).toBe('src/index.js');
    expect(readFileSync(join(SRC, 'index.js'), 'utf8')).toContain(`${shim('..')}module.exports = require('./index.ts');`);
  });

  it('the workspace keeps its shared TypeScript settings out of tsconfig.base.json and tsconfig.json', () => {
    // Nx resolves the executors of a plugin that is a project of the workspace from its sources,
    // and for that loads the TypeScript compiler (about 0.15 s) in every Nx command that runs a
    // task and in every task process, only to read `customConditions` from the root's
    // tsconfig.base.json or tsconfig.json. Under any other name nothing loads it.
    const root = join(SRC, '..', '..', '..');
    expect(['tsconfig.base.json', 'tsconfig.json'].filter((name) => existsSync(join(root, name)))).toEqual([]);
    expect(existsSync(join(root, 'tsconfig.workspace.json'))).toBe(true);
  });
});
