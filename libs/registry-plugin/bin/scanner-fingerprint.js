#!/usr/bin/env node
// Nx runtime cache input of the scan target: prints scanner, version and vulnerability DB version.
require('./register');
require('../src/lib/scanners/fingerprint-cli.ts');
