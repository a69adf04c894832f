import { normalizePushImageOptions, type PushImageOptions } from './push-image';

describe('docker-push options', () => {
  const project = { name: 'auren-api' };

  it('defaults: the project as repository, the strategy\'s tags, versioned, scan required', () => {
    expect(normalizePushImageOptions({}, project, false)).toEqual({
      repository: 'auren-api',
      extraTags: [],
      tags: undefined,
      versioned: true,
      requireScan: true,
      dryRun: false,
    });
  });

  it.each<[PushImageOptions['tags'], string[] | undefined]>([
    ['v1.2.3,latest', ['v1.2.3', 'latest']],
    [' a , b ,', ['a', 'b']],
    [['a', ' b'], ['a', 'b']],
    ['', undefined],
    [[], undefined],
    [' , ', undefined],
  ])('--tags %j pushes %j (none: the strategy decides)', (tags, expected) => {
    expect(normalizePushImageOptions({ tags }, project, false).tags).toEqual(expected);
  });

  it('keeps what the target sets', () => {
    expect(normalizePushImageOptions({ repository: 'api', extraTags: ['edge'], versioned: false, requireScan: false }, project, true)).toEqual({
      repository: 'api',
      extraTags: ['edge'],
      tags: undefined,
      versioned: false,
      requireScan: false,
      dryRun: true,
    });
  });
});
