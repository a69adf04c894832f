import fc from 'fast-check';
import type { BuildProvenance } from '../reports/records';
import {
  BUILD_TYPE,
  checkProvenanceStatement,
  LOCAL_BUILDER_ID,
  provenancePredicate,
  recordedBuildArgs,
  repositoryIdentity,
  runnerIdentity,
  SLSA_PROVENANCE_V1,
  sourceUri,
  WITHHELD,
} from './provenance';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const BASE = `sha256:${'b'.repeat(64)}`;
const COMMIT = 'c'.repeat(40);

const record: BuildProvenance = {
  schemaVersion: 1,
  project: 'auren-api',
  digest: DIGEST,
  externalParameters: { dockerfile: 'apps/auren-api/Dockerfile', context: 'apps/auren-api', platforms: ['linux/amd64', 'linux/arm64'], buildArgs: { BASE_IMAGE: `127.0.0.1:5000/auren/base-debian@${BASE}` }, target: 'runtime' },
  source: { uri: 'git+https://github.com/auren/platform.git', commit: COMMIT, ref: 'refs/heads/main', projectCommit: 'd'.repeat(40), dirty: false },
  baseImage: { reference: `127.0.0.1:5000/auren/base-debian@${BASE}`, digest: BASE },
  packageLocks: [{ platform: 'linux/amd64', path: '/usr/share/auren/packages.lock', sha256: 'e'.repeat(64) }],
  builder: { name: 'buildah', version: '1.28.2' },
  runner: { id: LOCAL_BUILDER_ID },
  startedOn: '2026-01-02T03:04:05.000Z',
  finishedOn: '2026-01-02T03:05:06.000Z',
};

const statement = (predicate = provenancePredicate(record), digest = DIGEST) => ({
  _type: 'https://in-toto.io/Statement/v0.1',
  subject: [{ name: '127.0.0.1:5000/auren/auren-api', digest: { sha256: digest.slice(7) } }],
  predicateType: SLSA_PROVENANCE_V1,
  predicate,
});

describe('SLSA v1 provenance predicate', () => {
  it('holds the build definition and run details the issue asks for', () => {
    const p = provenancePredicate(record);
    expect(p.buildDefinition.buildType).toBe(BUILD_TYPE);
    expect(p.buildDefinition.externalParameters).toMatchObject({
      dockerfile: 'apps/auren-api/Dockerfile', context: 'apps/auren-api', platforms: ['linux/amd64', 'linux/arm64'], target: 'runtime',
      buildArgs: { BASE_IMAGE: `127.0.0.1:5000/auren/base-debian@${BASE}` },
    });
    expect(p.buildDefinition.resolvedDependencies).toEqual([
      { uri: 'git+https://github.com/auren/platform.git@refs/heads/main', digest: { gitCommit: COMMIT }, name: 'source' },
      { uri: 'oci://127.0.0.1:5000/auren/base-debian', name: 'base-image', digest: { sha256: 'b'.repeat(64) } },
      { uri: 'oci://127.0.0.1:5000/auren/base-debian#/usr/share/auren/packages.lock', name: 'packages.lock (linux/amd64)', digest: { sha256: 'e'.repeat(64) }, annotations: { platform: 'linux/amd64' } },
    ]);
    expect(p.runDetails.builder).toEqual({ id: LOCAL_BUILDER_ID, version: { '@auren/registry-plugin': expect.stringMatching(/^\d+\.\d+\.\d+/), buildah: '1.28.2' } });
    expect(p.runDetails.metadata).toEqual({ startedOn: record.startedOn, finishedOn: record.finishedOn });
  });

  it('names a GitHub workflow as the builder in GitHub Actions, and AUREN_PROVENANCE_BUILDER_ID over both', () => {
    const github = { GITHUB_ACTIONS: 'true', GITHUB_SERVER_URL: 'https://github.com', GITHUB_WORKFLOW_REF: 'auren/platform/.github/workflows/release.yml@refs/heads/main', GITHUB_REPOSITORY: 'auren/platform', GITHUB_RUN_ID: '42' };
    expect(runnerIdentity(github)).toEqual({
      id: 'https://github.com/auren/platform/.github/workflows/release.yml@refs/heads/main',
      invocationId: 'https://github.com/auren/platform/actions/runs/42/attempts/1',
    });
    expect(runnerIdentity({ ...github, AUREN_PROVENANCE_BUILDER_ID: 'https://ci.example/builder' })).toEqual({ id: 'https://ci.example/builder' });
    expect(runnerIdentity({})).toEqual({ id: LOCAL_BUILDER_ID });
  });

  it('withholds build args whose names hold secrets, and credentials in values', () => {
    expect(recordedBuildArgs({ NPM_TOKEN: 'npm_abcdef', DB_PASSWORD: 'hunter22', PIP_INDEX: 'https://user:s3cret@pypi.example/simple', PY: '3.11' }, { MY_SECRET: 'value-from-env-1234' })).toEqual({
      NPM_TOKEN: WITHHELD, DB_PASSWORD: WITHHELD, PIP_INDEX: 'https://***@pypi.example/simple', PY: '3.11',
    });
    expect(recordedBuildArgs({ NOTE: 'has value-from-env-1234 inside' }, { MY_SECRET: 'value-from-env-1234' })).toEqual({ NOTE: 'has *** inside' });
  });
});

describe('source repository', () => {
  it.each([
    ['https://github.com/auren/platform.git', 'git+https://github.com/auren/platform.git'],
    ['https://x-access-token:ghs_secret@github.com/auren/platform.git', 'git+https://github.com/auren/platform.git'],
    ['git@github.com:auren/platform.git', 'git+ssh://github.com/auren/platform.git'],
    ['ssh://git@gitlab.example:2222/team/app', 'git+ssh://gitlab.example:2222/team/app'],
    ['/home/dev/auren', 'git+file:///home/dev/auren'],
  ])('remote %s is recorded as %s (never with credentials)', (remote, uri) => {
    expect(sourceUri(remote)).toBe(uri);
  });

  it('any spelling of one repository has one identity', () => {
    const ids = ['https://github.com/Auren/platform', 'git+https://github.com/Auren/platform.git@refs/heads/main', 'git@github.com:Auren/platform.git', 'git+ssh://git@GitHub.com/Auren/platform', 'github.com/Auren/platform/'].map(repositoryIdentity);
    expect(new Set(ids)).toEqual(new Set(['github.com/Auren/platform']));
    expect(repositoryIdentity('https://github.com/Auren/platform-fork')).not.toBe(ids[0]);
  });

  it('property: a recorded remote never keeps a password, and keeps its identity', () => {
    const segment = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
    // The secret starts with a capital, which no segment holds: a lowercase secret
    // could be part of the organisation's name and be found where it belongs.
    const password = fc.stringMatching(/^[A-Z][A-Za-z0-9_]{5,29}$/);
    fc.assert(
      fc.property(segment, segment, segment, password, (host, org, repo, secret) => {
        const remote = `https://user:${secret}@${host}.example/${org}/${repo}.git`;
        const uri = sourceUri(remote);
        expect(uri).not.toContain(secret);
        expect(repositoryIdentity(uri)).toBe(repositoryIdentity(`${host}.example/${org}/${repo}`));
      }),
    );
  });
});

describe('what the deploy gate accepts', () => {
  it.each([
    ['no expectations', {}, undefined],
    ['the expected repository, any spelling', { sourceRepository: 'git@github.com:auren/platform.git' }, undefined],
    ['the expected builder', { builderId: LOCAL_BUILDER_ID }, undefined],
    ['another repository', { sourceRepository: 'github.com/evil/platform' }, /its source is git\+https:\/\/github.com\/auren\/platform.git@refs\/heads\/main, not github.com\/evil\/platform/],
    ['another builder', { builderId: 'https://github.com/auren/platform/.github/workflows/release.yml@refs/heads/main' }, /built by https:\/\/auren.dev\/registry-plugin\/builder\/local, not/],
  ])('%s', (_name, expect_, refusal) => {
    const reason = checkProvenanceStatement(statement(), DIGEST, expect_);
    if (refusal) expect(reason).toMatch(refusal);
    else expect(reason).toBeUndefined();
  });

  it('refuses a statement about another digest, or of another predicate type', () => {
    expect(checkProvenanceStatement(statement(undefined, BASE), DIGEST, {})).toBe(`its subject is not ${DIGEST}`);
    expect(checkProvenanceStatement({ ...statement(), predicateType: 'https://slsa.dev/provenance/v0.2' }, DIGEST, {})).toMatch(/not https:\/\/slsa.dev\/provenance\/v1/);
    const { source: _source, ...withoutSource } = record;
    expect(checkProvenanceStatement(statement(provenancePredicate(withoutSource)), DIGEST, { sourceRepository: 'github.com/auren/platform' })).toBe('it names no source commit');
  });
});
