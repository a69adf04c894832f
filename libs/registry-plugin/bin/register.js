// Loads the plugin's TypeScript sources directly (no prebuild step), as Nx does for local plugins,
// but keeps each file's JavaScript in a cache keyed by its content: a command loads plain
// JavaScript and never the compiler. @swc-node/register alone costs about 100 MB of memory and
// 0.5 s per process (the native swc binding plus a compile of every file), more than a whole
// push needs (bench/push.mjs). The compiler is loaded only for a file changed since its last
// compile. AUREN_TS_CACHE=false falls back to @swc-node/register.
//
// The built package (nx run registry-plugin:build) is JavaScript and has no TypeScript sources:
// there this file does nothing, so an installed plugin needs neither typescript nor swc. Scripts
// that require it load their modules without an extension (`../src/cli/main`), which Node
// resolves to main.js in the package and, through the hook below, to main.ts here.
'use strict';
const { createHash } = require('node:crypto');
const { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..', '..');
const CACHE = process.env.AUREN_TS_CACHE_DIR || join(ROOT, 'node_modules', '.cache', 'auren-ts');
const SCHEME = 'v1';
const FROM_SOURCES = existsSync(join(__dirname, '..', 'src', 'index.ts'));

if (!FROM_SOURCES) {
  // The built package: plain JavaScript.
} else if (process.env.AUREN_TS_CACHE === 'false' || require.extensions['.ts']) {
  // Off, or another TypeScript loader (Nx's, jest's) is already in place.
  if (!require.extensions['.ts']) require('@swc-node/register');
} else {
  let ts;
  let tsVersion;
  const compile = (source, filename) => {
    ts ??= require('typescript');
    return ts.transpileModule(source, {
      fileName: filename,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        resolveJsonModule: true,
        sourceMap: false,
        inlineSourceMap: false,
      },
    }).outputText;
  };
  require.extensions['.ts'] = (module, filename) => {
    const source = readFileSync(filename, 'utf8');
    tsVersion ??= JSON.parse(readFileSync(require.resolve('typescript/package.json'), 'utf8')).version;
    const key = createHash('sha256').update(`${SCHEME}\0${tsVersion}\0${filename}\0${source}`).digest('hex');
    const file = join(CACHE, key.slice(0, 2), `${key}.js`);
    let js;
    try {
      js = readFileSync(file, 'utf8');
    } catch {
      js = compile(source, filename);
      try {
        mkdirSync(join(CACHE, key.slice(0, 2)), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, js);
        renameSync(tmp, file);
      } catch {
        // A read-only cache only costs the compile next time.
      }
    }
    module._compile(js, filename);
  };
}
