import { normalizeDeployManifestOptions } from './deploy-manifest';

describe('deploy-manifest options', () => {
  it('normalises defaults and comma lists', () => {
    expect(normalizeDeployManifestOptions({})).toEqual({
      composeFile: 'docker-compose.prod.yml',
      output: 'dist/deploy/docker-compose.override.yml',
      services: [],
      failOnMissing: false,
      requireSignature: false,
      requireProvenance: undefined,
    });
    expect(normalizeDeployManifestOptions({ services: 'a, b,,' }).services).toEqual(['a', 'b']);
    expect(normalizeDeployManifestOptions({ requireProvenance: true, sourceRepository: 'github.com/o/r', builderId: 'https://b' }).requireProvenance).toEqual({ sourceRepository: 'github.com/o/r', builderId: 'https://b' });
    expect(normalizeDeployManifestOptions({ requireProvenance: true }).requireProvenance).toEqual({});
  });

  it.each([{ sourceRepository: 'github.com/o/r' }, { builderId: 'https://b' }])('refuses provenance expectations without requireProvenance: %j', (options) => {
    expect(() => normalizeDeployManifestOptions(options)).toThrow('sourceRepository and builderId only apply with requireProvenance');
  });
});
