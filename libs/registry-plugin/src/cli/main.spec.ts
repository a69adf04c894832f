import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
