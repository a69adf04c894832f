import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse as parseYaml } from 'yaml';
import { testPushRecord } from '../../testing/push-record.testing';
import { testExecutorContext } from '../../testing/executor-context.testing';
import executor from './executor';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const workspaceRoot = join(__dirname, '..', '..', '..', '..', '..');

const COMPOSE = `
services:
  auren-api:
    image: \${REGISTRY:-127.0.0.1:5000/auren}/auren-api:\${VERSION:-latest}
  biometric-bridge:
    image: \${REGISTRY:-127.0.0.1:5000/auren}/biometric-bridge:\${VERSION:-latest}
  auren-nginx:
    image: \${REGISTRY:-127.0.0.1:5000/auren}/auren-nginx:\${VERSION:-latest}
  redis:
    image: redis:7-alpine
`;

// `extra` may hold what a PushRecord cannot (a bad digest): the executor must reject it.
function pushRecord(project: string, extra: Record<string, unknown> = {}) {
  const record = testPushRecord({ project, registry: 'registry.example.com:5000', digest: DIGEST, tags: ['1.4.0', 'latest'], version: '1.4.0', size: 1234 });
  return { ...record, blobs: { uploaded: 1, skipped: 0, mounted: 0, bytesUploaded: 1234 }, pushedAt: '2026-01-02T03:04:05.000Z', ...extra };
}

describe('deploy-manifest executor', () => {
  let root: string;
  const context = () =>
    testExecutorContext({
      root,
      projects: { 'auren-api': 'apps/auren-api', 'biometric-bridge': 'apps/biometric-bridge', 'auren-nginx': 'apps/auren-nginx' },
    });

  const writeRecord = (project: string, content: unknown) => {
    mkdirSync(join(root, 'dist/images', project), { recursive: true });
    writeFileSync(join(root, 'dist/images', project, 'push.json'), typeof content === 'string' ? content : JSON.stringify(content));
  };
  const output = () => join(root, 'dist/deploy/docker-compose.override.yml');

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'deploy-manifest-'));
    writeFileSync(join(root, 'docker-compose.prod.yml'), COMPOSE);
    process.exitCode = 0;
    jest.spyOn(console, 'info').mockImplementation(() => undefined);
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(root, { recursive: true, force: true });
    process.exitCode = 0;
  });

  it('pins pushed services to their digest and leaves the others out', async () => {
    writeRecord('auren-api', pushRecord('auren-api'));
    writeRecord('auren-nginx', pushRecord('auren-nginx', { dryRun: true }));

    await expect(executor({}, context())).resolves.toEqual({ success: true });

    const text = readFileSync(output(), 'utf8');
    expect(parseYaml(text)).toEqual({
      services: { 'auren-api': { image: `registry.example.com:5000/auren/auren-api@${DIGEST}` } },
    });
    expect(text).toContain('# Use: docker compose -f docker-compose.prod.yml -f dist/deploy/docker-compose.override.yml up -d');
    expect(text).toContain('biometric-bridge: not pinned (no push record)');
    expect(text).toContain('auren-nginx: not pinned (its last push was a dry run)');
    expect(text).not.toContain('redis');
  });

  it('writes an override that is a valid compose file', async () => {
    for (const p of ['auren-api', 'biometric-bridge', 'auren-nginx']) writeRecord(p, pushRecord(p));
    await executor({ output: 'out/pins.yml' }, context());
    // The vendored schema says "$schema": "https://json-schema.org/draft-07/schema" (no "#"),
    // an id ajv does not register; it is draft-07, which is ajv's default.
    const { $schema: _draft, ...composeSchema } = JSON.parse(readFileSync(join(workspaceRoot, 'tools/schemas/compose-spec.json'), 'utf8'));
    const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(composeSchema);
    const override = parseYaml(readFileSync(join(root, 'out/pins.yml'), 'utf8'));
    expect(validate(override) ? [] : validate.errors).toEqual([]);
    expect(Object.keys((override as { services: object }).services)).toEqual(['auren-api', 'biometric-bridge', 'auren-nginx']);
  });

  it('fails clearly on a malformed push record, naming the file and the field', async () => {
    writeRecord('auren-api', pushRecord('auren-api', { digest: 'sha256:nothex' }));
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args) => void errors.push(args.join(' ')));
    try {
      await expect(executor({}, context())).resolves.toEqual({ success: false });
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('\n')).toContain('dist/images/auren-api/push.json is not a valid push record: "digest" "sha256:nothex" is not a digest');
    expect(errors.join('\n')).toContain('nx run auren-api:docker-push');
    expect(process.exitCode).toBe(2);
    expect(existsSync(output())).toBe(false);
  });

  it('with failOnMissing, fails and writes nothing when an app service has no push record', async () => {
    writeRecord('auren-api', pushRecord('auren-api'));
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(executor({ failOnMissing: true }, context())).resolves.toEqual({ success: false });
    } finally {
      spy.mockRestore();
    }
    expect(existsSync(output())).toBe(false);
  });

  it('restricts to the services asked for, and rejects unknown ones', async () => {
    for (const p of ['auren-api', 'biometric-bridge']) writeRecord(p, pushRecord(p));
    await executor({ services: 'biometric-bridge' }, context());
    expect(Object.keys((parseYaml(readFileSync(output(), 'utf8')) as { services: object }).services)).toEqual(['biometric-bridge']);

    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(executor({ services: ['nope'] }, context())).resolves.toEqual({ success: false });
    } finally {
      spy.mockRestore();
    }
  });
});
