import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { formatErrors, fromRoot, listFiles, readYaml, schemaValidator } from './workspace';

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; args?: Record<string, string> };
  healthcheck?: { test?: unknown };
  depends_on?: Record<string, { condition?: string }> | string[];
}
interface ComposeFile {
  services: Record<string, Service>;
}

const composeFiles = ['docker-compose.yml', 'docker-compose.prod.yml'];
/** Apps with an image: every apps/<name>/Dockerfile. */
const apps = listFiles(fromRoot('apps'), /.*/)
  .filter((dir) => existsSync(`${dir}/Dockerfile`))
  .map((dir) => basename(dir));
const load = (file: string) => readYaml(fromRoot(file)) as ComposeFile;

describe('compose files', () => {
  const validate = schemaValidator('compose-spec.json');

  it('there are apps with a Dockerfile', () => {
    expect(apps.length).toBeGreaterThan(0);
  });

  it('the schema really constrains (a misspelt service key is rejected)', () => {
    expect(validate({ services: { web: { image: 'x', healthchek: {} } } })).toBe(false);
  });

  it.each(composeFiles)('%s matches the Compose specification schema', (file) => {
    const ok = validate(load(file));
    if (!ok) throw new Error(`${file} does not match the Compose schema:\n${formatErrors(validate)}`);
  });

  it.each(composeFiles)('%s: every service has a healthcheck and depends only on services that exist', (file) => {
    const { services } = load(file);
    for (const [name, service] of Object.entries(services)) {
      expect({ name, healthcheck: Array.isArray(service.healthcheck?.test) }).toEqual({ name, healthcheck: true });
      const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
      for (const dep of deps) expect({ name, dep, exists: dep in services }).toEqual({ name, dep, exists: true });
    }
  });

  it('docker-compose.prod.yml takes every app from the registry, by service name, and builds nothing', () => {
    const { services } = load('docker-compose.prod.yml');
    for (const app of apps) {
      expect({ app, image: services[app]?.image }).toEqual({ app, image: `\${REGISTRY:-127.0.0.1:5000/auren}/${app}:\${VERSION:-latest}` });
    }
    expect(Object.entries(services).filter(([, s]) => s.build !== undefined).map(([n]) => n)).toEqual([]);
  });

  it('docker-compose.yml builds every app from its own Dockerfile with the BASE_IMAGE argument', () => {
    const { services } = load('docker-compose.yml');
    for (const app of apps) {
      const build = services[app]?.build;
      expect(typeof build).toBe('object');
      const { context, dockerfile = 'Dockerfile', args = {} } = build as Exclude<Service['build'], string | undefined>;
      expect({ app, context }).toEqual({ app, context: `apps/${app}` });
      expect(existsSync(fromRoot(context as string, dockerfile))).toBe(true);
      expect({ app, args: Object.keys(args) }).toEqual({ app, args: expect.arrayContaining(['BASE_IMAGE']) });
    }
  });

  it('no compose file carries a literal secret', () => {
    for (const file of composeFiles) {
      const text = JSON.stringify(load(file));
      // Passwords come from the environment (`${POSTGRES_PASSWORD…}`), never inline.
      for (const match of text.matchAll(/"([A-Z_]*PASSWORD)":"([^"]*)"/g)) {
        expect({ file, key: match[1], value: match[2] }).toEqual({ file, key: match[1], value: expect.stringMatching(/^\$\{/) });
      }
    }
  });
});
