import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Installs `docker-credential-<name>` into `<dir>/bin`: a real executable speaking the
 * docker-credential-helpers protocol (get/store/erase/list on stdin/stdout), storing
 * entries as JSON files under `<dir>/store`. Returns an env whose PATH finds it first.
 */
export async function installFakeHelper(dir: string, name = 'test', baseEnv: NodeJS.ProcessEnv = process.env) {
  const bin = join(dir, 'bin');
  const store = join(dir, 'store');
  await mkdir(bin, { recursive: true });
  await mkdir(store, { recursive: true });
  const script = `#!/usr/bin/env node
const fs = require('fs'); const path = require('path');
const store = ${JSON.stringify(store)};
const input = fs.readFileSync(0, 'utf8');
const file = (url) => path.join(store, encodeURIComponent(url.trim()) + '.json');
fs.appendFileSync(path.join(store, 'calls.log'), process.argv[2] + ' ' + (process.argv[2] === 'store' ? JSON.parse(input).ServerURL : input.trim()) + '\\n');
switch (process.argv[2]) {
  case 'get':
    if (input.trim() === 'broken.example.com') { process.stderr.write('keychain locked\\n'); process.exit(1); }
    if (!fs.existsSync(file(input))) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
    process.stdout.write(fs.readFileSync(file(input), 'utf8'));
    break;
  case 'store': {
    const doc = JSON.parse(input);
    fs.writeFileSync(file(doc.ServerURL), JSON.stringify(doc));
    break;
  }
  case 'erase':
    if (!fs.existsSync(file(input))) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
    fs.unlinkSync(file(input));
    break;
  default:
    process.stderr.write('unknown action\\n'); process.exit(1);
}
`;
  const path = join(bin, `docker-credential-${name}`);
  await writeFile(path, script);
  await chmod(path, 0o755);
  const env: NodeJS.ProcessEnv = { ...baseEnv, PATH: `${bin}${delimiter}${baseEnv.PATH ?? ''}` };
  return {
    env,
    store,
    callsLog: join(store, 'calls.log'),
    async put(serverUrl: string, username: string, secret: string) {
      await writeFile(join(store, `${encodeURIComponent(serverUrl)}.json`), JSON.stringify({ ServerURL: serverUrl, Username: username, Secret: secret }));
    },
  };
}

/**
 * For a spec's top level: a temporary root for the whole file, and a function giving each test a
 * fresh HOME with DOCKER_CONFIG (holding `config` when given) and the fake helper on PATH.
 * `dockerDir: 'always'` creates the DOCKER_CONFIG folder even without a config, for tests that
 * write into it; otherwise it is left for the code under test to create.
 */
export function dockerSandboxes(prefix: string, options: { dockerDir?: 'always' | 'with-config' } = {}) {
  let root = '';
  let n = 0;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));
  return async (config?: unknown) => {
    const dir = join(root, String(n++));
    const dockerDir = join(dir, 'docker');
    await mkdir(config !== undefined || options.dockerDir === 'always' ? dockerDir : dir, { recursive: true });
    if (config !== undefined) await writeFile(join(dockerDir, 'config.json'), JSON.stringify(config));
    const helper = await installFakeHelper(dir, 'test', { PATH: process.env.PATH });
    const env: NodeJS.ProcessEnv = { ...helper.env, HOME: dir, DOCKER_CONFIG: dockerDir };
    const read = async () => JSON.parse(await readFile(join(dockerDir, 'config.json'), 'utf8'));
    return { dir, dockerDir, env, helper, read };
  };
}
