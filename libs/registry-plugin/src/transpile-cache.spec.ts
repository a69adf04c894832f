import execa from 'execa';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// bin/register.js: how the plugin's TypeScript runs from this repository (Nx's plugin, executor
// and generator entries, the CLI, the scanner fingerprint), each file compiled once into a cache.
const REGISTER = join(__dirname, '..', 'bin', 'register.js');
const CLI = join(__dirname, '..', 'bin', 'auren-registry.js');

describe('the transpile cache (bin/register.js)', () => {
  let dir: string;
  let cache: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'auren-transpile-'));
    cache = join(dir, 'cache');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const entries = () => readdirSync(cache, { recursive: true }).filter((name) => String(name).endsWith('.js'));
  const load = (file: string) =>
    execa(process.execPath, ['-r', REGISTER, '-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(file)})))`], {
      env: { AUREN_TS_CACHE_DIR: cache },
      extendEnv: true,
    });

  function writeModule(folder: string, body: string): string {
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'data.json'), '{"n": 2}\n');
    const file = join(folder, 'mod.ts');
    writeFileSync(file, `import data from './data.json';\ntype N = number;\nexport const value: N = data.n * ${body};\nexport default 'd';\n`);
    return file;
  }

  it('runs TypeScript with a default JSON import and type-only syntax, compiled once', async () => {
    const file = writeModule(join(dir, 'a'), '3');
    expect(JSON.parse((await load(file)).stdout)).toEqual({ value: 6, default: 'd' });
    expect(entries()).toHaveLength(1);
    expect(JSON.parse((await load(file)).stdout)).toEqual({ value: 6, default: 'd' });
    expect(entries()).toHaveLength(1);
  });

  it('two clones of a workspace share one entry per file; a changed file gets a new one', async () => {
    const first = writeModule(join(dir, 'clone-1', 'src'), '3');
    cpSync(join(dir, 'clone-1'), join(dir, 'clone-2'), { recursive: true });
    await load(first);
    expect(JSON.parse((await load(join(dir, 'clone-2', 'src', 'mod.ts'))).stdout).value).toBe(6);
    expect(entries()).toHaveLength(1);
    const changed = writeModule(join(dir, 'clone-2', 'src'), '5');
    expect(JSON.parse((await load(changed)).stdout).value).toBe(10);
    expect(entries()).toHaveLength(2);
  });

  it('the whole CLI loads from an empty cache, as on a new machine', async () => {
    const help = await execa(process.execPath, [CLI, '--help'], { env: { AUREN_TS_CACHE_DIR: cache } });
    expect(help.stdout).toContain('usage: auren-registry <command>');
    expect(entries().length).toBeGreaterThan(20);
  });
});
