import Ajv from 'ajv';
import execa from 'execa';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import schema from './plugin-options.schema.json';
import { compiledValidators, type ValidatorSpec } from './validator-cache';

const ENV = Object.keys(schema['x-environment'])[0] as keyof typeof schema['x-environment'];

function spec(cacheDir: string): ValidatorSpec {
  const formats = { date: (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v), semver: () => true, 'registry-address': (v: string) => !v.includes('/'), namespace: () => true, 'reference-template': (v: string) => !v.includes('@') };
  return { schema, formats, keywords: ['x-expected', 'x-environment'], entryPoints: { options: schema.$id, [ENV]: `${schema.$id}${schema['x-environment'][ENV]}` }, ajvOptions: { allErrors: false, strict: true, verbose: true }, cacheDir };
}

describe('compiled option validators', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'auren-validators-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const kept = () => readdirSync(dir).map((name) => join(dir, name));

  it('property: the kept code decides as ajv compiling the schema does, with the same first error', () => {
    const s = spec(dir);
    const generated = compiledValidators(s).options;
    const ajv = new Ajv(s.ajvOptions);
    ajv.addVocabulary(s.keywords);
    for (const [name, check] of Object.entries(s.formats)) ajv.addFormat(name, check);
    const reference = ajv.compile(schema);
    const valid = { registry: '127.0.0.1:5000', namespace: 'auren', scan: { severity: ['HIGH'], ignore: [{ id: 'CVE-2024-1', expires: '2030-01-01' }] } };
    const option = fc.constantFrom(...Object.keys(schema.properties));
    const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('a/b', 'u@h', '2030-01-01', ['HIGH'], { severity: ['LOW'] }));
    fc.assert(
      fc.property(fc.dictionary(option, value, { maxKeys: 3 }), fc.boolean(), (changes, fromValid) => {
        const options = fromValid ? { ...valid, ...changes } : changes;
        const ours = generated(options);
        expect(ours).toBe(reference(options));
        if (!ours) {
          const [a, b] = [generated.errors?.[0], reference.errors?.[0]];
          expect([a?.keyword, a?.instancePath, a?.params]).toEqual([b?.keyword, b?.instancePath, b?.params]);
          expect(a?.parentSchema).toEqual(b?.parentSchema);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the code once and reads it in a later process instead of compiling', () => {
    compiledValidators(spec(dir));
    const [file] = kept();
    expect(kept()).toHaveLength(1);
    // A marker added to the kept code shows that the next call ran it rather than ajv.
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nexports.marker = () => true;`);
    const again = compiledValidators(spec(dir)) as Record<string, unknown>;
    expect(typeof again.marker).toBe('function');
    expect((again.options as (v: unknown) => boolean)({ registry: 5 })).toBe(false);
  });

  it.each([
    ['a half-written file', 'exports.options = function ('],
    ['code without an entry point', 'exports.options = 1;'],
    ['code that throws', 'throw new Error("x")'],
  ])('compiles again over %s, and replaces it', (_name, damaged) => {
    compiledValidators(spec(dir));
    const [file] = kept();
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, damaged);
    const validators = compiledValidators(spec(dir));
    expect(validators.options({ registry: 5 })).toBe(false);
    expect(validators[ENV]).toEqual(expect.any(Function));
    expect(readFileSync(file, 'utf8')).toBe(good);
  });

  it('works where nothing can be kept (the cache folder is a file)', () => {
    const blocked = join(dir, 'file');
    writeFileSync(blocked, '');
    const validators = compiledValidators(spec(join(blocked, 'cache')));
    expect(validators.options({ registry: '127.0.0.1:5000' })).toBe(true);
    expect(kept()).toEqual([blocked]);
  });

  it('processes that start together on an empty cache each get working validators, and leave one whole file', async () => {
    // Each process compiles and writes through a file of its own, renamed into place: whichever
    // rename lands last, no process reads half a file.
    const register = join(__dirname, '..', '..', '..', 'bin', 'register.js');
    const script = `
      const { compiledValidators } = require(${JSON.stringify(join(__dirname, 'validator-cache.ts'))});
      const schema = require(${JSON.stringify(join(__dirname, 'plugin-options.schema.json'))});
      const formats = Object.fromEntries(['date', 'semver', 'registry-address', 'namespace', 'reference-template'].map((f) => [f, () => true]));
      const v = compiledValidators({ schema, formats, keywords: ['x-expected', 'x-environment'], entryPoints: { options: schema.$id }, ajvOptions: { allErrors: false, strict: true, verbose: true }, cacheDir: process.argv[1] });
      process.stdout.write(String(v.options({ registry: '127.0.0.1:5000' }) && !v.options({ registry: 5 })));
    `;
    const runs = await Promise.all(Array.from({ length: 6 }, () => execa(process.execPath, ['-r', register, '-e', script, dir])));
    expect(runs.map((r) => r.stdout)).toEqual(Array(6).fill('true'));
    expect(readdirSync(dir)).toHaveLength(1);
    const validators = compiledValidators({ ...spec(dir), entryPoints: { options: schema.$id } });
    expect(validators.options({ registry: 5 })).toBe(false);
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it('AUREN_VALIDATOR_CACHE_DIR names the folder when the caller names none', () => {
    const before = process.env.AUREN_VALIDATOR_CACHE_DIR;
    process.env.AUREN_VALIDATOR_CACHE_DIR = dir;
    try {
      const validators = compiledValidators({ ...spec(dir), cacheDir: undefined });
      expect(validators.options({ registry: '127.0.0.1:5000' })).toBe(true);
      expect(readdirSync(dir).filter((name) => name.endsWith('.js'))).toHaveLength(1);
    } finally {
      if (before === undefined) delete process.env.AUREN_VALIDATOR_CACHE_DIR;
      else process.env.AUREN_VALIDATOR_CACHE_DIR = before;
    }
  });

  it('another schema gets code of its own', () => {
    compiledValidators(spec(dir));
    const other = { ...schema, description: 'changed' };
    compiledValidators({ ...spec(dir), schema: other });
    expect(kept()).toHaveLength(2);
  });
});
