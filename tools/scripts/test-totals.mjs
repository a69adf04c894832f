// Totals over every suite in tmp/test-results: jest JSON reports, pytest JUnit XML, and Nx
// test targets that report no count of their own (counted as one test each).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'tmp/test-results';
let passed = 0;
let failed = 0;
let skipped = 0;
const files = readdirSync(dir);
const xmlFailures = {};
const pendingFailed = [];
for (const file of files) {
  const path = join(dir, file);
  if (file.startsWith('jest-') && file.endsWith('.json')) {
    const report = JSON.parse(readFileSync(path, 'utf8'));
    passed += report.numPassedTests;
    failed += report.numFailedTests;
    skipped += report.numPendingTests + report.numTodoTests;
    // A suite that fails to load has no failed test but must still count as a failure.
    failed += report.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
  } else if (file.endsWith('.xml')) {
    const xml = readFileSync(path, 'utf8');
    xmlFailures[file] = 0;
    const suite = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? '';
    const attr = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite)?.[1] ?? 0);
    const bad = attr('failures') + attr('errors');
    passed += attr('tests') - bad - attr('skipped');
    failed += bad;
    xmlFailures[file] = bad;
    skipped += attr('skipped');
  } else if (file.startsWith('target-')) {
    const app = file.replace(/^target-/, '').replace(/\.(ok|failed)$/, '');
    const counted = files.includes(`app-${app}.xml`);
    // A failed target whose report shows no failing test still failed (collection error, a
    // second command in the target): count it once.
    if (file.endsWith('.failed')) failed += counted ? 0 : 1;
    if (file.endsWith('.failed') && counted) pendingFailed.push(`app-${app}.xml`);
    else if (!counted) passed += 1;
  }
}
for (const xml of pendingFailed) if (!xmlFailures[xml]) failed += 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
