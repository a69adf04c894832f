'use strict';
// Shared helpers for the `trivy` and `grype` stand-ins (tests only; see README.md).
const fs = require('node:fs');
const path = require('node:path');

const SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

/**
 * Findings from the fixture named by AUREN_STANDIN_FINDINGS:
 * [{ id, severity, pkg, installed, fixed?, title?, aliases?, image? }]. Like a real vulnerability
 * database, a finding applies only where its package is: `image`, when given, is a substring of
 * the scanned layout's path (e.g. "biometric-bridge") that stands for "this image has the package".
 */
function readFindings(layoutDir) {
  const file = process.env.AUREN_STANDIN_FINDINGS;
  if (!file) return [];
  const list = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(list)) throw new Error(`${file}: expected a JSON list of findings`);
  return list
    .filter((f) => !f.image || String(layoutDir || '').includes(f.image))
    .map((f) => ({ ...f, severity: String(f.severity || 'UNKNOWN').toUpperCase() }));
}

/** Reads an OCI layout the way a scanner would; returns undefined when `dir` is not one. */
function readLayout(dir, ref) {
  const indexFile = path.join(dir, 'index.json');
  if (!fs.existsSync(indexFile) || !fs.existsSync(path.join(dir, 'oci-layout'))) return undefined;
  const blob = (digest) => JSON.parse(fs.readFileSync(path.join(dir, 'blobs', ...digest.split(':')), 'utf8'));
  const index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  let descriptors = index.manifests || [];
  if (ref) descriptors = descriptors.filter((d) => d.digest === ref || (d.annotations || {})['org.opencontainers.image.ref.name'] === ref);
  let top = descriptors[0];
  if (!top) return { error: 'invalid OCI image ref' };
  let manifest = blob(top.digest);
  const manifestDigest = top.digest;
  while (Array.isArray(manifest.manifests)) {
    top = manifest.manifests[0];
    manifest = blob(top.digest);
  }
  const config = blob(manifest.config.digest);
  return { manifestDigest, manifest, configDigest: manifest.config.digest, config };
}

function severityAtLeast(severity, threshold) {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold.toUpperCase());
}

/** Minimal flag parser: `--flag value`, `--flag=value`, `-f value`, booleans listed in `booleans`. */
function parseArgs(argv, { booleans, aliases }) {
  const flags = {};
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    let [name, value] = arg.replace(/^--?/, '').split(/=(.*)/s);
    name = aliases[name] || name;
    if (booleans.includes(name)) flags[name] = value === undefined ? true : value !== 'false';
    else {
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) return { error: `flag needs an argument: ${arg}` };
      }
      flags[name] = value;
    }
  }
  return { flags, positional };
}

/** AUREN_STANDIN_FAIL=crash|garbage: make the stand-in fail the way broken scanners do. */
function failMode() {
  return process.env.AUREN_STANDIN_FAIL || '';
}

function crash(tool) {
  process.stderr.write(
    `panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x0]\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/cmd/${tool}/main.go:42 +0x1d\n`,
  );
  process.exit(2);
}

function writeOutput(file, text) {
  if (file) fs.writeFileSync(file, text);
  else process.stdout.write(text);
}

module.exports = { SEVERITIES, readFindings, readLayout, severityAtLeast, parseArgs, failMode, crash, writeOutput };
