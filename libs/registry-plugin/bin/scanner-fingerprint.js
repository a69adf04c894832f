#!/usr/bin/env node
// Nx runtime cache input of the scan target: prints scanner, version and vulnerability DB version.
// No extension on purpose: the installed package has the compiled fingerprint-cli.js (and
// register.js does nothing there); in this repository register.js loads the .ts source from its
// transpile cache, so neither path loads a TypeScript compiler.
require('./register');
require('../src/lib/scanners/fingerprint-cli');
