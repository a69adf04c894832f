import { AurenError } from '../errors/errors';
import { formatReference, parseImageReference, validateRepository, type ImageReference } from './reference';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseImageReference', () => {
  const cases: Array<[string, ImageReference]> = [
    ['ubuntu', { registry: 'docker.io', repository: 'library/ubuntu' }],
    ['ubuntu:22.04', { registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04' }],
    ['bitnami/redis:7', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7' }],
    ['docker.io/python:3.12-slim', { registry: 'docker.io', repository: 'library/python', tag: '3.12-slim' }],
    ['index.docker.io/library/nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['localhost:5000/app:dev', { registry: 'localhost:5000', repository: 'app', tag: 'dev' }],
    ['127.0.0.1:5000/auren/auren-api:1.2.3', { registry: '127.0.0.1:5000', repository: 'auren/auren-api', tag: '1.2.3' }],
    ['ghcr.io/org/team/app', { registry: 'ghcr.io', repository: 'org/team/app' }],
    ['registry.digitalocean.com/auren/api@' + D, { registry: 'registry.digitalocean.com', repository: 'auren/api', digest: D }],
    ['ghcr.io/org/app:v1@' + D, { registry: 'ghcr.io', repository: 'org/app', tag: 'v1', digest: D }],
    ['[::1]:5000/app:x', { registry: '[::1]:5000', repository: 'app', tag: 'x' }],
    ['my_org/app__x', { registry: 'docker.io', repository: 'my_org/app__x' }],
    ['a/b.c-d/e:_tag', { registry: 'docker.io', repository: 'a/b.c-d/e', tag: '_tag' }],
  ];
  it.each(cases)('%s', (input, expected) => {
    expect(parseImageReference(input)).toEqual(expected);
  });

  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['https://ghcr.io/org/app', /scheme/],
    ['Ubuntu', /lower case/],
    ['ghcr.io/Org/app', /lower case/],
    ['app:-bad', /invalid tag/],
    ['app:' + 'x'.repeat(129), /invalid tag/],
    ['app@sha256:abc', /invalid digest/],
    ['app@md5', /invalid digest/],
    ['ghcr.io/', /invalid repository/],
    ['a//b', /invalid repository/],
    ['a/-b', /invalid repository/],
    ['app:', /invalid tag/],
  ];
  it.each(invalid)('rejects %s', (input, message) => {
    let error: unknown;
    try {
      parseImageReference(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AurenError);
    expect((error as AurenError).kind).toBe('input');
    expect((error as AurenError).message).toMatch(message);
    expect((error as AurenError).hint).toBeTruthy();
  });
});

describe('formatReference', () => {
  const cases: Array<[ImageReference, string, string]> = [
    [{ registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04' }, 'docker.io/library/ubuntu:22.04', 'ubuntu:22.04'],
    [{ registry: 'docker.io', repository: 'bitnami/redis' }, 'docker.io/bitnami/redis', 'bitnami/redis'],
    [{ registry: 'ghcr.io', repository: 'org/app', tag: 'v1', digest: D }, `ghcr.io/org/app:v1@${D}`, `ghcr.io/org/app:v1@${D}`],
    [{ registry: '127.0.0.1:5000', repository: 'auren/api', digest: D }, `127.0.0.1:5000/auren/api@${D}`, `127.0.0.1:5000/auren/api@${D}`],
  ];
  it.each(cases)('%j', (ref, full, familiar) => {
    expect(formatReference(ref)).toBe(full);
    expect(formatReference(ref, { familiar: true })).toBe(familiar);
    expect(parseImageReference(full)).toEqual(ref);
    expect(parseImageReference(familiar)).toEqual(ref);
  });
});

describe('validateRepository', () => {
  it.each(['auren/auren-api', 'a', 'a.b_c__d---e/f', 'x/'.repeat(100) + 'x'])('accepts %s', (name) => {
    expect(validateRepository(name)).toBe(name);
  });
  it.each(['', 'A', 'a/', '/a', 'a..b', 'a___b', 'a:b', 'a'.repeat(256)])('rejects %j', (name) => {
    expect(() => validateRepository(name)).toThrow(/invalid repository name/);
  });
});
