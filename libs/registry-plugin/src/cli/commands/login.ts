import { validateRegistryHost } from '../../lib/config/options';
import { readSecret, registryLogin } from '../../lib/providers/login';
import { flag, hasFlag, type Command } from '../command';
import { loadWorkspaceConfig } from '../workspace';

export const loginCommand: Command = {
  summary: 'Check registry credentials and store them in docker\'s config.json or a credential helper.',
  help: [
    'usage: auren-registry login [<registry>] [--username <name>] [--password-stdin] [--helper <name>] [--docker-config <dir>] [--json]',
    '',
    'Checks the credentials against the registry (GET /v2/) before storing anything, then stores them',
    'like `docker login`: through a credential helper, or base64 in config.json with mode 0600.',
    'The secret is read from stdin, never from an argument; without --password-stdin it comes from',
    'AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD or the provider variables',
    '(DIGITALOCEAN_ACCESS_TOKEN, GITHUB_TOKEN + GITHUB_ACTOR, DOCKERHUB_USERNAME / DOCKERHUB_TOKEN).',
    'DigitalOcean takes its API token as both user name and password, as doctl does.',
    'The registry defaults to the one configured in nx.json (or AUREN_REGISTRY).',
    '',
    'examples:',
    '  printenv DIGITALOCEAN_ACCESS_TOKEN | auren-registry login registry.digitalocean.com --password-stdin',
    '  printenv GITHUB_TOKEN | auren-registry login ghcr.io --username "$GITHUB_ACTOR" --password-stdin',
    '  auren-registry login docker.io      # DOCKERHUB_USERNAME / DOCKERHUB_TOKEN from the environment',
    '  auren-registry login 127.0.0.1:5000 --username ci --password-stdin --helper pass < secret.txt',
  ].join('\n'),
  async run(args, io) {
    const config = loadWorkspaceConfig(io.cwd, io.env);
    const valued = new Set(['--username', '--helper', '--docker-config']);
    const positional = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && valued.has(args[i - 1])));
    const registry = validateRegistryHost(positional[0] ?? config.registry, positional[0] ? 'the command line' : 'nx.json registry');
    const password = hasFlag(args, 'password-stdin') ? await readSecret(process.stdin) : undefined;
    const result = await registryLogin({
      registry,
      username: flag(args, 'username'),
      password,
      helper: flag(args, 'helper'),
      dockerConfigDir: flag(args, 'docker-config'),
      insecure: config.insecureRegistries.includes(registry) || undefined,
      caFile: config.caFile,
      env: io.env,
    });
    if (hasFlag(args, 'json')) {
      io.stdout(JSON.stringify(result, null, 2) + '\n');
      return 0;
    }
    io.stdout(`Logged in to ${result.registry} as ${result.username} (credentials from ${result.credentialsSource}).\n`);
    io.stdout(`Stored in ${result.storage === 'helper' ? `docker-credential-${result.helper}` : result.configPath}.\n`);
    if (result.verification === 'anonymous-access') {
      io.stderr(`warning: ${result.registry} did not ask for credentials on GET /v2/, so they could not be checked.\n`);
    }
    return 0;
  },
};
