import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fromRoot } from './workspace';

/**
 * House style for the plugin's executor and generator schemas: a description on every option,
 * camelCase names, no unknown options, and schema.d.ts declaring the same options.
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

describe('plugin schemas', () => {
  it.each(schemaFiles().map((f) => [f.slice(pluginRoot.length + 1), f]))('%s', (_name, file) => {
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
    const dts = join(dirname(file), 'schema.d.ts');
    expect(existsSync(dts)).toBe(true);
    const declared = [...readFileSync(dts, 'utf8').matchAll(/^\s+(\w+)\??:/gm)].map((m) => m[1]).sort();
    expect(declared).toEqual(Object.keys(schema.properties ?? {}).sort());
  });
});
