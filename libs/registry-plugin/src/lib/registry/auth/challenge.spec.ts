import { normalizeScopes, parseChallenges, parseScope, scopesCover, type Challenge } from './challenge';

describe('parseChallenges', () => {
  const cases: [string, string | null, Challenge[]][] = [
    ['empty header', '', []],
    ['missing header', null, []],
    ['basic with realm', 'Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['bare scheme', 'Basic', [{ scheme: 'basic', params: {} }]],
    [
      'distribution bearer',
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:auren/api:pull,push"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:auren/api:pull,push' } }],
    ],
    [
      'case-insensitive scheme and names, spaces around = and ,',
      'BEARER Realm = "https://a/token" , Service="svc"',
      [{ scheme: 'bearer', params: { realm: 'https://a/token', service: 'svc' } }],
    ],
    [
      'unquoted token values',
      'Bearer realm=https://a/token,service=svc',
      [{ scheme: 'bearer', params: { realm: 'https://a/token', service: 'svc' } }],
    ],
    [
      'several scopes in one quoted value',
      'Bearer realm="https://a/token",scope="repository:a:pull repository:b:pull,push"',
      [{ scheme: 'bearer', params: { realm: 'https://a/token', scope: 'repository:a:pull repository:b:pull,push' } }],
    ],
    [
      'escaped quotes and commas inside quotes',
      'Bearer realm="https://a/token?x=1,2",error="invalid_token",error_description="the \\"token\\" expired, sorry"',
      [{ scheme: 'bearer', params: { realm: 'https://a/token?x=1,2', error: 'invalid_token', error_description: 'the "token" expired, sorry' } }],
    ],
    [
      'two challenges (joined repeated headers)',
      'Bearer realm="https://a/token",service="s", Basic realm="fallback"',
      [
        { scheme: 'bearer', params: { realm: 'https://a/token', service: 's' } },
        { scheme: 'basic', params: { realm: 'fallback' } },
      ],
    ],
    ['token68', 'Negotiate YIIabc+/def==, Basic realm="r"', [
      { scheme: 'negotiate', params: {}, token68: 'YIIabc+/def==' },
      { scheme: 'basic', params: { realm: 'r' } },
    ]],
    ['ghcr style', 'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"', [
      { scheme: 'bearer', params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:user/image:pull' } },
    ]],
    ['unterminated quote keeps the rest', 'Bearer realm="https://a/tok', [{ scheme: 'bearer', params: { realm: 'https://a/tok' } }]],
    ['first duplicate wins', 'Bearer realm="a",realm="b"', [{ scheme: 'bearer', params: { realm: 'a' } }]],
  ];
  it.each(cases)('%s', (_name, header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });
});

describe('scopes', () => {
  it.each([
    ['repository:auren/api:pull,push', { type: 'repository', name: 'auren/api', actions: ['pull', 'push'] }],
    ['repository:localhost:5000/x:pull', { type: 'repository', name: 'localhost:5000/x', actions: ['pull'] }],
    ['registry:catalog:*', { type: 'registry', name: 'catalog', actions: ['*'] }],
    ['nonsense', undefined],
    ['a:b', undefined],
  ])('parseScope(%s)', (scope, expected) => {
    expect(parseScope(scope)).toEqual(expected);
  });

  it.each([
    [['repository:a:push', 'repository:a:pull'], ['repository:a:pull,push']],
    [['repository:b:pull repository:a:pull', 'repository:a:delete'], ['repository:a:delete,pull', 'repository:b:pull']],
    [['repository:a:pull,pull'], ['repository:a:pull']],
    [[], []],
  ])('normalizeScopes(%j)', (input, expected) => {
    expect(normalizeScopes(input)).toEqual(expected);
  });

  it.each([
    [['repository:a:pull,push'], ['repository:a:pull'], true],
    [['repository:a:pull'], ['repository:a:pull,push'], false],
    [['repository:a:pull'], ['repository:b:pull'], false],
    [['registry:catalog:*'], ['registry:catalog:*'], true],
    [['repository:a:*'], ['repository:a:delete'], true],
    [['repository:a:pull'], [], true],
  ])('scopesCover(%j, %j) = %s', (held, wanted, expected) => {
    expect(scopesCover(held, wanted)).toBe(expected);
  });
});
