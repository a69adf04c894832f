import type { PushRecord } from '../lib/reports/records';

/**
 * A valid push record (what `push` writes to dist/images/<project>/push.json) for specs that
 * read one: `overrides` replace fields in place, so a spec states only what its cases depend on.
 */
export function testPushRecord(overrides: Partial<PushRecord> = {}): PushRecord {
  const project = overrides.project ?? 'auren-api';
  return {
    schemaVersion: 1, project, registry: '127.0.0.1:5000', repository: `auren/${project}`, digest: `sha256:${'ab'.repeat(32)}`,
    tags: ['latest'], size: 1, platforms: ['linux/amd64'], scan: { verdict: 'pass' }, git: { sha: 'abc', branch: 'main' },
    blobs: { uploaded: 0, skipped: 0, mounted: 0, bytesUploaded: 0 }, pushedAt: '2026-01-01T00:00:00.000Z', dryRun: false,
    ...overrides,
  };
}
