import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../shared/logger';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { exec } from '../../lib/exec/exec';
import { testExecutorContext } from '../../testing/executor-context.testing';
import executor from './executor';

const workspaceRoot = join(__dirname, '..', '..', '..', '..', '..');

const schema = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'secret-v1.schema.json'), 'utf8'));
const ajv = new Ajv({ allErrors: true });
addFormats(ajv);
ajv.addVocabulary(['x-kubernetes-group-version-kind']);
const validateSecret = ajv.compile(schema);

const REGISTRY = 'registry.example.com:5443';
const USER = 'ci-bot';
const PASSWORD = 'pa55-W0rd:with/colon+plus';

/** Everything the executor logs (the executors' logger and console), to prove no secret lands there. */
function captureLogs() {
  const lines: string[] = [];
  const spies = [
    ...(['info', 'warn', 'error', 'verbose'] as const).map((m) =>
      jest.spyOn(logger, m).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' '))),
    ),
    ...(['log', 'info', 'warn', 'error'] as const).map((m) =>
      jest.spyOn(console, m).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' '))),
    ),
  ];
  return { lines, restore: () => spies.forEach((s) => s.mockRestore()) };
}

describe('kubernetes-manifest executor', () => {
  let root: string;
  const context = () => testExecutorContext({ root, pluginOptions: { registry: REGISTRY, namespace: 'auren' } });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'auren-k8s-'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    process.exitCode = undefined;
  });

  async function run(options: Record<string, unknown>, env: NodeJS.ProcessEnv) {
    const out: string[] = [];
    const logs = captureLogs();
    try {
      const result = await executor(options, context(), { env, write: (t) => void out.push(t) });
      return { result, stdout: out.join(''), logs: logs.lines };
    } finally {
      logs.restore();
    }
  }

  function decode(secret: { data: Record<string, string> }) {
    return JSON.parse(Buffer.from(secret.data['.dockerconfigjson'], 'base64').toString('utf8'));
  }

  it('prints a Secret v1 of type dockerconfigjson from AUREN_REGISTRY_USERNAME/PASSWORD; the password is in stdout only', async () => {
    const env = { AUREN_REGISTRY_USERNAME: USER, AUREN_REGISTRY_PASSWORD: PASSWORD, DOCKER_CONFIG: join(root, 'none') };
    const { result, stdout, logs } = await run({ namespace: 'auren-prod', name: 'auren-pull', stdout: true }, env);
    expect(result).toEqual({ success: true });
    const secret = parseYaml(stdout);
    expect(validateSecret(secret)).toBe(true);
    expect(secret).toMatchObject({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: { name: 'auren-pull', namespace: 'auren-prod' } });
    // Secret data keys: what the API server accepts (validation.IsConfigMapKey).
    expect(Object.keys(secret.data)).toEqual(['.dockerconfigjson']);
    expect(Object.keys(secret.data).every((k) => /^[-._a-zA-Z0-9]+$/.test(k))).toBe(true);
    const config = decode(secret);
    expect(Object.keys(config.auths)).toEqual([REGISTRY]);
    const entry = config.auths[REGISTRY];
    expect(entry).toMatchObject({ username: USER, password: PASSWORD });
    expect(Buffer.from(entry.auth, 'base64').toString('utf8')).toBe(`${USER}:${PASSWORD}`);
    expect(logs.join('\n')).not.toContain(PASSWORD);
    expect(logs.join('\n')).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
  });

  it('uses the credentials stored by `registry:login` in docker config.json; JSON output validates too', async () => {
    const dockerDir = join(root, 'docker');
    mkdirSync(dockerDir);
    const auth = Buffer.from(`stored-user:${PASSWORD}`).toString('base64');
    writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [REGISTRY]: { auth } } }), { mode: 0o600 });
    const { result, stdout, logs } = await run({ format: 'json', stdout: true }, { DOCKER_CONFIG: dockerDir });
    expect(result).toEqual({ success: true });
    const secret = JSON.parse(stdout);
    expect(validateSecret(secret)).toBe(true);
    expect(secret.metadata).toMatchObject({ name: 'registry-registry-example-com-5443', namespace: 'default' });
    expect(decode(secret).auths[REGISTRY]).toMatchObject({ username: 'stored-user', password: PASSWORD, auth });
    expect(logs.join('\n')).not.toContain(PASSWORD);
  });

  it('by default writes the manifest to a file with mode 0600, prints nothing of it and logs no secret', async () => {
    const env = { AUREN_REGISTRY_USERNAME: USER, AUREN_REGISTRY_PASSWORD: PASSWORD, DOCKER_CONFIG: join(root, 'none') };
    const defaults = await run({ namespace: 'auren-prod', name: 'auren-pull' }, env);
    expect(defaults.result).toEqual({ success: true });
    expect(defaults.stdout).toBe('');
    expect(statSync(join(root, 'dist/k8s/auren-prod-auren-pull.secret.yaml')).mode & 0o777).toBe(0o600);
    expect(defaults.logs.join('\n')).toContain('kubectl apply -f dist/k8s/auren-prod-auren-pull.secret.yaml');
    expect(defaults.logs.join('\n')).not.toContain(PASSWORD);
    const { result, stdout, logs } = await run({ output: 'dist/k8s/pull-secret.yaml' }, env);
    expect(result).toEqual({ success: true });
    expect(stdout).toBe('');
    const file = join(root, 'dist/k8s/pull-secret.yaml');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = parseYaml(readFileSync(file, 'utf8'));
    expect(validateSecret(secret)).toBe(true);
    expect(decode(secret).auths[REGISTRY].password).toBe(PASSWORD);
    expect(logs.join('\n')).toContain('pull-secret.yaml');
    expect(logs.join('\n')).not.toContain(PASSWORD);
  });

  it('without stored credentials: an auth error naming the registry and `registry:login`; nothing printed', async () => {
    const { result, stdout, logs } = await run({ stdout: true }, { DOCKER_CONFIG: join(root, 'none') });
    expect(result).toEqual({ success: false });
    expect(stdout).toBe('');
    expect(logs.join('\n')).toMatch(/no stored credentials for registry\.example\.com:5443[\s\S]*registry:login/);
  });

  it.each([
    [{ name: 'Auren_Pull' }, /invalid Secret name "Auren_Pull"/],
    [{ namespace: 'prod.eu' }, /invalid Kubernetes namespace "prod\.eu"/],
  ])('refuses %j before reading credentials', async (options, message) => {
    const env = { AUREN_REGISTRY_USERNAME: USER, AUREN_REGISTRY_PASSWORD: PASSWORD, DOCKER_CONFIG: join(root, 'none') };
    const { result, stdout, logs } = await run(options, env);
    expect(result).toEqual({ success: false });
    expect(stdout).toBe('');
    expect(logs.join('\n')).toMatch(message);
    expect(existsSync(join(root, 'dist'))).toBe(false);
  });

  it('the schema check itself rejects what the API server would (the test can fail)', () => {
    const good = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: { name: 'a' }, data: { '.dockerconfigjson': 'e30=' } };
    expect(validateSecret(good)).toBe(true);
    expect(validateSecret({ ...good, kind: 'ConfigMap' })).toBe(false);
    expect(validateSecret({ ...good, data: { '.dockerconfigjson': 'not base64!' } })).toBe(false);
    expect(validateSecret({ ...good, metadata: { name: 'a', secret: 'x' } })).toBe(false);
    expect(validateSecret({ ...good, spec: {} })).toBe(false);
  });

  it('through the real `nx run registry:kubernetes-manifest`: the Secret is in its file, and nowhere in Nx\'s output or cache', async () => {
    const cache = join(root, 'nx-cache');
    const outFile = join(root, 'pull-secret.yaml');
    const secretPassword = `nx-run-${Date.now()}-pw`;
    const result = await exec(
      'npx',
      ['nx', 'run', 'registry:kubernetes-manifest', '--namespace=auren-prod', '--name=auren-pull', `--output=${outFile}`, '--skip-nx-cache'],
      {
        cwd: workspaceRoot,
        env: { ...process.env, NX_DAEMON: 'false', NX_CACHE_DIRECTORY: cache, NX_NO_CLOUD: 'true', DOCKER_CONFIG: join(root, 'none'), AUREN_REGISTRY_USERNAME: USER, AUREN_REGISTRY_PASSWORD: secretPassword },
      },
    );
    const secret = parseYaml(readFileSync(outFile, 'utf8'));
    expect(validateSecret(secret)).toBe(true);
    expect(decode(secret).auths['127.0.0.1:5000'].password).toBe(secretPassword);
    expect(result.stdout + result.stderr).toContain('kubectl apply -f');
    expect(result.stdout + result.stderr).not.toContain(secretPassword);
    expect(result.stdout + result.stderr).not.toContain(secret.data['.dockerconfigjson'].slice(0, 40));
    const stored = existsSync(cache) ? (await exec('grep', ['-rl', secret.data['.dockerconfigjson'].slice(0, 40), cache], { okExitCodes: [1] })).stdout : '';
    expect(stored).toBe('');
  }, 180_000);
});
