// The plugin's entry in this repository (package.json "main"). Nx would load index.ts through
// its own TypeScript loader, which costs every Nx command and every task process about 0.3 s
// (the native swc binding and a compile of each file); bin/register.js loads the sources from a
// transpile cache keyed by their content instead. Each executor has the same two lines in an
// executor.js beside its executor.ts, which Nx resolves first. The built package has the compiled
// JavaScript in these places (nx run registry-plugin:build), and none of these files.
require('../bin/register');
module.exports = require('./index.ts');
