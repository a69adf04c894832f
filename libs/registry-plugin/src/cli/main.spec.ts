import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeHtpasswd } from '../testing/htpasswd.testing';
import { startTestRegistry, type TestRegistry } from '../testing/registry-server.testing';
import { commands, main } from './main';
import { kebab, parseCommandLine, type OptionsSchema } from './options';

const executors = JSON.parse(readFileSync(join(__dirname, '..', '..', 'executors.json'), 'utf8')).executors as Record<string, { schema: string }>;

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { cwd: __dirname, env: {}, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('auren-registry <command> --help', () => {
  it.each(Object.keys(commands))('%s: usage, every option of its schema with its description, examples', async (name) => {
    const { code, stdout } = await run([name, '--help']);
    expect(code).toBe(0);
    const spec = commands[name].spec;
    expect(stdout.startsWith(`usage: auren-registry ${name}`)).toBe(true);
    const flat = stdout.replace(/\s+/g, ' ');
    for (const [property, schema] of Object.entries({ ...spec.schema.properties, ...spec.cli })) {
      if (spec.omit?.includes(property) || (schema.type === 'object' && !schema.oneOf)) continue;
      expect(stdout).toMatch(new RegExp(`^  --${kebab(property)}\\b`, 'm'));
      expect(flat).toContain((schema.description ?? '').replace(/\s+/g, ' '));
    }
    expect(stdout).toContain('\nexamples:\n');
  });

  it.each(Object.keys(commands).filter((name) => executors[name]))('%s takes the options of the %s executor: its schema.json is the one source', (name) => {
    const schema = JSON.parse(readFileSync(join(__dirname, '..', '..', executors[name].schema), 'utf8')) as OptionsSchema;
    expect(commands[name].spec.schema).toEqual(schema);
  });

  it('names a default and the allowed values', async () => {
    const { stdout } = await run(['cleanup', '--help']);
    expect(stdout).toMatch(/^ {2}--delete-via auto\|api\|storage +How deletions reach/m);
    expect(stdout.replace(/\s+/g, " ")).toContain("Registry requests (reads and deletions) in flight at once. (default: 8)");
  });
});

describe('auren-registry flags', () => {
  it('a name every object has is not a command', async () => {
    expect(await run(['constructor'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "constructor"') });
  });

  it.each(Object.keys(commands))('%s: an unknown flag is an input error naming the flag and --help, before anything runs', async (name) => {
    const { code, stderr, stdout } = await run([name, '--no-such-flag']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`unknown option --no-such-flag for auren-registry ${name}`);
    expect(stderr).toContain(`Run \`auren-registry ${name} --help\` for its options.`);
  });

  const cleanup = commands.cleanup.spec;
  it.each<[string[], Record<string, unknown>]>([
    [['--apply', '--repositories', 'a,b', '--concurrency', '4'], { apply: true, repositories: 'a,b', concurrency: 4 }],
    [['--journal-dir=x', '--delete-via', 'api'], { journalDir: 'x', deleteVia: 'api' }],
    [['--journalDir', 'x', '--storageDir', '/srv'], { journalDir: 'x', storageDir: '/srv' }],
  ])('cleanup %p → %p (kebab-case, or camelCase as in nx.json)', (args, options) => {
    expect(parseCommandLine('cleanup', cleanup, args)).toEqual({ options, positionals: [] });
  });

  it.each<[string, string[], RegExp]>([
    ['cleanup', ['--concurrency', 'many'], /^--concurrency must be integer$/],
    ['cleanup', ['--concurrency', '100'], /^--concurrency must be <= 64$/],
    ['cleanup', ['--delete-via', 'ftp'], /^--delete-via must be one of auto, api, storage$/],
    ['cleanup', ['--journal-dir'], /^--journal-dir needs a value$/],
    ['cleanup', ['--apply', 'now'], /^unexpected argument "now" for auren-registry cleanup$/],
    ['cleanup', ['--journal-dir', 'a', '--journalDir', 'b'], /^--journal-dir is given twice$/],
    ['monitor', ['--format', 'pdf'], /^--format must be one of text, json, markdown, prometheus, html$/],
    ['inspect', [], /^auren-registry inspect needs <reference>$/],
    ['promote', ['a:1'], /^promote needs a source and a destination$/],
  ])('%s %p is refused: %p', (name, args, message) => {
    expect(() => parseCommandLine(name, commands[name].spec, args)).toThrow(expect.objectContaining({ kind: 'input', message: expect.stringMatching(message) }));
  });

  it('keeps older flag spellings that scripts use', () => {
    expect(parseCommandLine('mirror', commands.mirror.spec, ['redis:7', '--compose', 'c.yml', '--dry-run']).options).toEqual({ composeFile: 'c.yml', dryRun: true });
  });
});

describe('auren-registry released', () => {
  it('in a repository with no release tag: nothing released (exit 1), said before Nx or the registry is asked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auren-released-'));
    try {
      const git = (...args: string[]) => new Promise<void>((resolve, reject) => spawn('git', args, { cwd: dir, stdio: 'ignore' }).on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`git ${args[0]}: ${c}`)))));
      await git('init', '-q');
      await writeFile(join(dir, 'nx.json'), JSON.stringify({ plugins: [{ plugin: '@auren/registry-plugin', options: { registry: '127.0.0.1:9' } }] }));
      let stdout = '';
      // 127.0.0.1:9 refuses connections: had anything been asked of it, the answer would not be "nothing released".
      const code = await main(['released'], { cwd: dir, env: {}, stdout: (t) => (stdout += t), stderr: (t) => (stdout += t) });
      expect({ code, stdout }).toEqual({ code: 1, stdout: 'nothing released yet: no <project>@<version> tag\n' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The real `auren-registry` binary, as a cron job or a person runs it: a registry address with
 * a password in it, or a password in the environment, never comes back on stdout or stderr —
 * whatever fails and wherever.
 */
describe('auren-registry never prints a secret', () => {
  const BIN = join(__dirname, '..', '..', 'bin', 'auren-registry.js');
  const IN_ADDRESS = 'addr-Secret-7f3a';
  const IN_ENV = 'env-Secret-91bc';
  let registry: TestRegistry;
  let htpasswdDir: string;
  let cwd: string;

  beforeAll(async () => {
    const auth = await writeHtpasswd({ ci: 'the-right-password-5d1e' });
    htpasswdDir = dirname(auth.path);
    registry = await startTestRegistry({ extraConfig: auth.yaml });
    cwd = await mkdtemp(join(tmpdir(), 'auren-cli-secrets-'));
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    await rm(htpasswdDir, { recursive: true, force: true });
    await rm(cwd, { recursive: true, force: true });
  });

  function cli(args: string[], env: Record<string, string>, input = ''): Promise<{ code: number; out: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        cwd,
        env: { PATH: process.env.PATH, HOME: cwd, DOCKER_CONFIG: join(cwd, 'docker'), AUREN_REGISTRY_USERNAME: 'ci', AUREN_REGISTRY_PASSWORD: IN_ENV, ...env },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, out }));
      child.stdin.end(input);
    });
  }

  it.each<[string, () => string[], () => Record<string, string>]>([
    ['ls --registry with a URL and userinfo', () => ['ls', '--registry', `https://ci:${IN_ADDRESS}@${registry.host}/auren`], () => ({})],
    ['ls --registry host with userinfo', () => ['ls', '--registry', `ci:${IN_ADDRESS}@${registry.host}`], () => ({})],
    ['AUREN_REGISTRY with userinfo', () => ['ls'], () => ({ AUREN_REGISTRY: `ci:${IN_ADDRESS}@${registry.host}/auren` })],
    ['AUREN_REGISTRY as a URL with userinfo', () => ['monitor'], () => ({ AUREN_REGISTRY: `https://ci:${IN_ADDRESS}@${registry.host}/auren` })],
    ['inspect of a reference with userinfo', () => ['inspect', `ci:${IN_ADDRESS}@${registry.host}/auren/api:1.0.0`], () => ({})],
    ['promote from a reference with userinfo', () => ['promote', `ci:${IN_ADDRESS}@${registry.host}/auren/api:1.0.0`, 'v1.0.0'], () => ({})],
    ['login to an address with userinfo', () => ['login', `ci:${IN_ADDRESS}@${registry.host}`], () => ({})],
  ])('%s: refused, naming the credentials but not repeating them', async (_name, args, env) => {
    const { code, out } = await cli(args(), env());
    expect(out).toContain('registry address contains credentials; put them in AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD (or a docker credential helper)');
    expect(out).toContain('***@');
    expect(out).not.toContain(IN_ADDRESS);
    expect(out).not.toContain(IN_ENV);
    expect(code).toBe(2);
  });

  it('a wrong password in the environment: the registry refuses, the output does not carry the password', async () => {
    const { code, out } = await cli(['ls', 'auren/api'], { AUREN_REGISTRY: registry.host });
    expect(code).toBe(1);
    expect(out).toMatch(/401|credentials|refused|denied/i);
    expect(out).not.toContain(IN_ENV);
  });

  it('a wrong password on stdin for login: refused, not repeated', async () => {
    const { code, out } = await cli(['login', registry.host, '--username', 'ci', '--password-stdin'], {}, 'stdin-Secret-a8e2\n');
    expect(code).not.toBe(0);
    expect(out).not.toContain('stdin-Secret-a8e2');
    expect(out).not.toContain(IN_ENV);
  });
});
