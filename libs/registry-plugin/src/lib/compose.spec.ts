import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interpolate, readComposeFile, requireComposeFile, serviceImage, type UnsetVariable } from './compose';

const where = 'service x in c.yml';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, none was thrown');
}

describe('interpolate (compose-spec "Interpolation")', () => {
  // [text, env, expected, unset policy (default: empty, as the spec says)]. The callbacks take a
  // rest parameter: jest reads a callback with more parameters than its row has as `done`. Rows
  // of one rule share a line.
  it.each<[string, NodeJS.ProcessEnv, string, UnsetVariable?]>([
    // ${A} and $A
    ['${A}', { A: 'a' }, 'a'], ['$A', { A: 'a' }, 'a'], ['$A/b', { A: 'a' }, 'a/b'],
    ['${A}', {}, ''], ['$A', {}, ''], ['${A}', { A: '' }, ''],
    // ${A:-b}: default when unset or empty
    ['${A:-b}', {}, 'b'], ['${A:-b}', { A: '' }, 'b'], ['${A:-b}', { A: 'a' }, 'a'],
    ['${A:-}', {}, ''], ['${A:-127.0.0.1:5000/auren}/api', {}, '127.0.0.1:5000/auren/api'],
    // ${A-b}: default only when unset
    ['${A-b}', {}, 'b'], ['${A-b}', { A: '' }, ''], ['${A-b}', { A: 'a' }, 'a'],
    // ${A:+b}: replacement when set and non-empty
    ['${A:+b}', {}, ''], ['${A:+b}', { A: '' }, ''], ['${A:+b}', { A: 'a' }, 'b'],
    // ${A+b}: replacement when set, even empty
    ['${A+b}', {}, ''], ['${A+b}', { A: '' }, 'b'], ['${A+b}', { A: 'a' }, 'b'],
    // ${A:?msg} and ${A?msg} when the variable has a value
    ['${A:?set A}', { A: 'a' }, 'a'], ['${A?set A}', { A: '' }, ''],
    // $$ is a literal $, never the start of a variable
    ['a$$b', {}, 'a$b'], ['$${A}', { A: 'a' }, '${A}'], ['$$$A', { A: 'a' }, '$a'],
    // a $ not followed by a name stays
    ['5$', {}, '5$'], ['$-1', {}, '$-1'],
    // nested defaults, evaluated only when used
    ['${A:-${B:-c}}', {}, 'c'], ['${A:-${B}}', { B: 'b' }, 'b'], ['${A:-${B:?unused}}', { A: 'a' }, 'a'],
    ['${A:+x-${B}}', { A: 'a', B: 'b' }, 'x-b'],
    // several variables in one value
    ['${HUB}/redis:$TAG', { HUB: 'mirror.example.com', TAG: '7' }, 'mirror.example.com/redis:7'],
    // unset without a default: an error when asked for one; defaults still apply
    ['${A:-b}', {}, 'b', 'error'], ['${A-b}', { A: '' }, '', 'error'], ['${A:+b}', {}, '', 'error'],
  ])('%p with %p → %p (%s)', (...[text, env, expected, unset]) => {
    expect(interpolate(text, env, { where, unset })).toBe(expected);
  });

  it.each<[string, NodeJS.ProcessEnv, RegExp, UnsetVariable?]>([
    ['${A:?set A first}', {}, /service x in c\.yml: required variable A is missing a value: set A first/],
    ['${A:?set A first}', { A: '' }, /required variable A is missing a value: set A first/],
    ['${A?set A first}', {}, /required variable A is missing a value: set A first/],
    ['${A:?}', {}, /required variable A is missing a value$/],
    ['${A:-${B:?need B}}', {}, /required variable B is missing a value: need B/],
    ['${A}', {}, /service x in c\.yml uses \$\{A\}, which is not set/, 'error'],
    ['$A', {}, /uses \$A, which is not set/, 'error'],
    ['${A', {}, /has no closing "}"/],
    ['${1A}', {}, /invalid interpolation format "\$\{1A\}"/],
    ['${A=b}', {}, /invalid interpolation format "\$\{A=b\}"/],
    ['${}', {}, /invalid interpolation format/],
  ])('%p with %p is an input error', (...[text, env, message, unset]) => {
    const error = thrown(() => interpolate(text, env, { where, unset }));
    expect(error).toMatchObject({ kind: 'input' });
    expect(error.message).toMatch(message);
  });
});

describe('readComposeFile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'compose-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists services in file order with their raw image and whether they build, merge keys applied', () => {
    writeFileSync(
      join(dir, 'c.yml'),
      [
        'x-db: &db',
        '  image: postgres:${PG:-16}',
        'services:',
        '  api:',
        '    build: apps/api',
        '    image: ${REGISTRY:-r:5000/auren}/api:${VERSION:-latest}',
        '  db:',
        '    <<: *db',
        '  empty:',
        '',
      ].join('\n'),
    );
    const compose = readComposeFile(join(dir, 'c.yml'), 'c.yml');
    expect(compose?.services).toEqual([
      { name: 'api', image: '${REGISTRY:-r:5000/auren}/api:${VERSION:-latest}', builds: true },
      { name: 'db', image: 'postgres:${PG:-16}', builds: false },
      { name: 'empty', image: undefined, builds: false },
    ]);
    const [api, db, empty] = compose?.services ?? [];
    if (!compose) throw new Error('unreachable');
    expect(serviceImage(compose, api, { VERSION: '1.2.3' })).toBe('r:5000/auren/api:1.2.3');
    expect(serviceImage(compose, db, {})).toBe('postgres:16');
    expect(serviceImage(compose, empty, {})).toBeUndefined();
  });

  it('names the file and the problem for a missing file, bad YAML and no services', () => {
    expect(readComposeFile(join(dir, 'missing.yml'))).toBeUndefined();
    expect(() => requireComposeFile(join(dir, 'missing.yml'), 'missing.yml', 'Pass --composeFile.')).toThrow(
      expect.objectContaining({ kind: 'input', message: 'compose file missing.yml not found', hint: 'Pass --composeFile.' }),
    );
    writeFileSync(join(dir, 'bad.yml'), 'services: [\n');
    expect(() => readComposeFile(join(dir, 'bad.yml'), 'bad.yml')).toThrow(/bad\.yml is not valid YAML/);
    writeFileSync(join(dir, 'none.yml'), 'version: "3"\n');
    expect(() => readComposeFile(join(dir, 'none.yml'), 'none.yml')).toThrow(/none\.yml has no "services" mapping/);
  });
});
