// The second half of `nx run registry-plugin:build`, after tsc has emitted JavaScript and
// declarations into dist/libs/registry-plugin: copies what tsc does not (schemas, generator
// templates, bin and shell scripts, the README), points executors.json and generators.json at
// the emitted JavaScript, writes the package's package.json, and refuses to finish when a test
// file made it into the package (tsc follows imports past its `exclude` list).
//
// Inside this repository nothing reads dist/: Nx loads the plugin from its TypeScript sources
// (src/index.js and each executor.js load them through bin/register.js's transpile cache), so
// the developer loop needs no build.
import { chmodSync, cpSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = dirname(fileURLToPath(import.meta.url));
const OUT = process.argv[2] ?? join(SOURCE, '..', '..', 'dist', 'libs', 'registry-plugin');

/** Paths (relative, with "/") that only tests use; none may be in the package. */
const TEST_ONLY = [/\.spec\.[jt]s$/, /\.testing\.(js|d\.ts)$/, /(^|\/)testing\//, /^src\/e2e\//, /(^|\/)fixtures\//];

function walk(dir, base = dir) {
  const files = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...walk(path, base));
    else files.push(relative(base, path).split(sep).join('/'));
  }
  return files;
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const writeJson = (file, value) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

if (!existsSync(join(OUT, 'src', 'index.js'))) {
  console.error(`build-package: ${OUT}/src/index.js is missing; run tsc -p libs/registry-plugin/tsconfig.lib.json first`);
  process.exit(1);
}

// 1. Files tsc does not emit: option schemas and their hand-written declarations (schema.d.ts),
// the CLI's schemas, generator templates.
const copied = walk(join(SOURCE, 'src'))
  .filter((file) => !TEST_ONLY.some((re) => re.test(`src/${file}`)))
  .filter((file) => /\.json$/.test(file) || /\.d\.ts$/.test(file) || /\/files\//.test(file));
for (const file of copied) cpSync(join(SOURCE, 'src', file), join(OUT, 'src', file));

// 2. The CLI and the scripts the plugin runs, found from the package itself at run time.
for (const dir of ['bin', 'scripts']) {
  cpSync(join(SOURCE, dir), join(OUT, dir), { recursive: true });
  for (const file of walk(join(OUT, dir))) if (/\.(js|sh)$/.test(file)) chmodSync(join(OUT, dir, file), 0o755);
}
cpSync(join(SOURCE, 'README.md'), join(OUT, 'README.md'));

// 3. Executors and generators point at the emitted JavaScript. The sources' entries have no
// extension, which Nx resolves to .ts in this repository; the package says .js outright.
const toJs = (entry) => {
  const [path, symbol] = entry.split('#');
  return `${path}.js${symbol ? `#${symbol}` : ''}`;
};
const executors = readJson(join(SOURCE, 'executors.json'));
for (const executor of Object.values(executors.executors)) {
  executor.implementation = toJs(executor.implementation);
  if (executor.batchImplementation) executor.batchImplementation = toJs(executor.batchImplementation);
}
writeJson(join(OUT, 'executors.json'), executors);
const generators = readJson(join(SOURCE, 'generators.json'));
for (const generator of Object.values(generators.generators)) generator.factory = toJs(generator.factory);
writeJson(join(OUT, 'generators.json'), generators);

// 4. package.json: the sources' (name, version, dependencies, peer range), published, JavaScript.
const source = readJson(join(SOURCE, 'package.json'));
const { private: _private, main: _main, types: _types, executors: _e, generators: _g, bin, engines, dependencies, peerDependencies, ...about } = source;
writeJson(join(OUT, 'package.json'), {
  ...about,
  type: 'commonjs',
  main: './src/index.js',
  types: './src/index.d.ts',
  exports: {
    '.': { types: './src/index.d.ts', default: './src/index.js' },
    './package.json': './package.json',
    './executors.json': './executors.json',
    './generators.json': './generators.json',
  },
  executors: './executors.json',
  generators: './generators.json',
  bin,
  engines,
  dependencies,
  peerDependencies,
});

// 5. What the package holds: no test code, and every entry point exists as JavaScript.
const files = walk(OUT);
const leaked = files.filter((file) => TEST_ONLY.some((re) => re.test(file)));
if (leaked.length) {
  console.error(`build-package: test-only files reached the package (an included module imports them):\n  ${leaked.join('\n  ')}`);
  process.exit(1);
}
const entries = [
  './src/index.js',
  ...Object.values(executors.executors).flatMap((e) => [e.implementation, e.batchImplementation, e.schema]),
  ...Object.values(generators.generators).flatMap((g) => [g.factory, g.schema]),
  ...Object.values(source.bin ?? {}),
]
  .filter(Boolean)
  .map((entry) => entry.split('#')[0]);
const missing = entries.filter((entry) => !existsSync(join(OUT, entry)));
if (missing.length) {
  console.error(`build-package: entry points missing from the package: ${missing.join(', ')}`);
  process.exit(1);
}
console.log(`build-package: ${relative(process.cwd(), OUT) || OUT}: ${files.length} files`);
