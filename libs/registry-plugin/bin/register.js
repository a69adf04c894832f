// Loads the plugin's TypeScript sources directly (no prebuild step), as Nx does for local plugins,
// but keeps each file's JavaScript in a cache keyed by its content: a command loads plain
// JavaScript and never the compiler. @swc-node/register alone costs about 100 MB of memory and
// 0.5 s per process (the native swc binding plus a compile of every file), more than a whole
// push needs (bench/push.mjs). swc's compiler is loaded only for a file not compiled before (a
// new machine compiles the whole plugin in about 0.1 s). AUREN_TS_CACHE_DIR names another cache
// folder; AUREN_TS_CACHE=false falls back to @swc-node/register.
//
// The built package (nx run registry-plugin:build) is JavaScript and has no TypeScript sources:
// there this file does nothing, so an installed plugin needs no compiler. Scripts
// that require it load their modules without an extension (`../src/cli/main`), which Node
// resolves to main.js in the package and, through the hook below, to main.ts here.
'use strict';
const { createHash } = require('node:crypto');
const { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { extname, join } = require('node:path');

const ROOT = join(__dirname, '..', '..', '..');
const CACHE = process.env.AUREN_TS_CACHE_DIR || join(ROOT, 'node_modules', '.cache', 'auren-ts');
const SCHEME = 'v2';
const FROM_SOURCES = existsSync(join(__dirname, '..', 'src', 'index.ts'));

if (!FROM_SOURCES) {
  // The built package: plain JavaScript.
} else if (process.env.AUREN_TS_CACHE === 'false' || require.extensions['.ts']) {
  // Off, or another TypeScript loader (Nx's, jest's) is already in place.
  if (!require.extensions['.ts']) require('@swc-node/register');
} else {
  let swc;
  let swcVersion;
  // The settings jest compiles the specs with (jest.preset.js), so the sources run here as they
  // are tested. The output depends only on the source and the file's extension (no source maps,
  // no .swcrc), so clones of the workspace that share node_modules share one entry per file.
  const compile = (source, filename) => {
    swc ??= require('@swc/core');
    return swc.transformSync(source, {
      filename,
      swcrc: false,
      configFile: false,
      sourceMaps: false,
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    }).code;
  };
  require.extensions['.ts'] = (module, filename) => {
    const source = readFileSync(filename, 'utf8');
    swcVersion ??= JSON.parse(readFileSync(require.resolve('@swc/core/package.json'), 'utf8')).version;
    const key = createHash('sha256').update(`${SCHEME}\0${swcVersion}\0${extname(filename)}\0${source}`).digest('hex');
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
