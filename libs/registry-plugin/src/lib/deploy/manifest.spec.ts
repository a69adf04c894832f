import { validatePushRecord } from './manifest';

const valid = {
  schemaVersion: 1,
  project: 'auren-api',
  registry: '127.0.0.1:5000',
  repository: 'auren/auren-api',
  digest: `sha256:${'0'.repeat(64)}`,
  tags: ['0.1.0'],
  version: '0.1.0',
  pushedAt: '2026-01-01T00:00:00Z',
  dryRun: false,
};

describe('validatePushRecord', () => {
  it('accepts a well-formed record', () => {
    expect(validatePushRecord(valid, 'push.json', 'auren-api')).toBe(valid);
  });

  it.each<[string, unknown, string]>([
    ['not an object', [], 'expected a JSON object'],
    ['another schema version', { ...valid, schemaVersion: 2 }, 'unsupported schemaVersion 2'],
    ['another project', { ...valid, project: 'auren-nginx' }, 'belongs to project "auren-nginx", not auren-api'],
    ['a URL as registry', { ...valid, registry: 'https://r.example.com' }, '"registry" "https://r.example.com" is not host[:port]'],
    ['an upper-case repository', { ...valid, repository: 'Auren/API' }, '"repository" "Auren/API" is not a repository name'],
    ['a tag instead of a digest', { ...valid, digest: 'latest' }, '"digest" "latest" is not a digest'],
    ['a short sha256', { ...valid, digest: 'sha256:abc' }, 'is not a digest'],
    ['tags not a list', { ...valid, tags: 'latest' }, '"tags" must be a list of strings'],
    ['no dryRun flag', { ...valid, dryRun: undefined }, '"dryRun" must be true or false'],
    ['no pushedAt', { ...valid, pushedAt: undefined }, '"pushedAt" is missing'],
  ])('rejects %s', (_name, raw, message) => {
    expect(() => validatePushRecord(raw, 'dist/images/auren-api/push.json', 'auren-api')).toThrow(
      expect.objectContaining({ message: expect.stringContaining(message), kind: 'input' }),
    );
  });
});
