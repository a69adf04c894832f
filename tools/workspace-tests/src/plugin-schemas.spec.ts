import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { schemaOptions, type DeclaredOption } from './schema-options';
import { fromRoot } from './workspace';

/**
 * House style for the plugin's executor and generator schemas: a description on every option,
 * camelCase names, no unknown options, and schema.d.ts declaring the same options, each with a
 * doc comment. A schema.d.ts often re-exports the options type a use case in lib/ owns; the
 * options compared are the ones that type really has (schema-options.ts follows the re-export).
 */
const pluginRoot = fromRoot('libs', 'registry-plugin');

function schemaFiles(): string[] {
  const files = new Set<string>();
  for (const [manifest, key] of [['executors.json', 'executors'], ['generators.json', 'generators']] as const) {
    const path = join(pluginRoot, manifest);
    if (!existsSync(path)) continue;
    const entries = JSON.parse(readFileSync(path, 'utf8'))[key] as Record<string, { schema: string }>;
    for (const entry of Object.values(entries)) files.add(join(pluginRoot, entry.schema));
  }
  return [...files].sort();
}

const files = schemaFiles();
const declarations = (file: string) => join(dirname(file), 'schema.d.ts');

describe('plugin schemas', () => {
  let declared: Map<string, DeclaredOption[]>;
  beforeAll(() => {
    declared = schemaOptions(files.map(declarations).filter((dts) => existsSync(dts)), pluginRoot);
  });

  it.each(files.map((f) => [f.slice(pluginRoot.length + 1), f]))('%s', (_name, file) => {
    const schema = JSON.parse(readFileSync(file, 'utf8'));
    expect(schema.additionalProperties).toBe(false);
    expect(typeof schema.description).toBe('string');
    for (const [name, prop] of Object.entries<{ description?: string }>(schema.properties ?? {})) {
      expect({ name, camelCase: /^[a-z][a-zA-Z0-9]*$/.test(name), described: Boolean(prop.description) }).toEqual({
        name,
        camelCase: true,
        described: true,
      });
    }
    const dts = declarations(file);
    expect(existsSync(dts)).toBe(true);
    const options = declared.get(dts) ?? [];
    expect(options.map((option) => option.name).sort()).toEqual(Object.keys(schema.properties ?? {}).sort());
    // Where the type lives (schema.d.ts or a use case in lib/), each option says what it is there too.
    expect(options.filter((option) => !option.doc).map((option) => `${option.declaredIn}: ${option.name}`)).toEqual([]);
  });
});
