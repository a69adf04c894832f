import { login, normalizeLoginOptions } from '../../lib/providers/login';
import type { LoginExecutorSchema } from '../../executors/login/schema';
import schema from '../../executors/login/schema.json';
import type { Command } from '../command';
import { loadWorkspaceConfig } from '../workspace';

export const loginCommand: Command = {
  summary: 'Check registry credentials and store them in docker\'s config.json or a credential helper.',
  spec: {
    schema,
    omit: ['registry'],
    cli: { json: { type: 'boolean', description: 'Print the outcome as JSON (never the secret).' } },
    positionals: [{ name: 'registry', description: 'Registry host[:port] (default: the configured registry).' }],
    about: [
      'Checks the credentials against the registry (GET /v2/) before storing anything, then stores them',
      'like `docker login`: through a credential helper, or base64 in config.json with mode 0600.',
      'The secret is read from stdin, never from an argument; without --password-stdin it comes from',
      'AUREN_REGISTRY_USERNAME / AUREN_REGISTRY_PASSWORD or the provider variables',
      '(DIGITALOCEAN_ACCESS_TOKEN, GITHUB_TOKEN + GITHUB_ACTOR, DOCKERHUB_USERNAME / DOCKERHUB_TOKEN).',
      'DigitalOcean takes its API token as both user name and password, as doctl does.',
    ],
    examples: [
      'printenv DIGITALOCEAN_ACCESS_TOKEN | auren-registry login registry.digitalocean.com --password-stdin',
      'printenv GITHUB_TOKEN | auren-registry login ghcr.io --username "$GITHUB_ACTOR" --password-stdin',
      'auren-registry login docker.io      # DOCKERHUB_USERNAME / DOCKERHUB_TOKEN from the environment',
      'auren-registry login 127.0.0.1:5000 --username ci --password-stdin --helper pass < secret.txt',
    ],
  },
  async run({ options, positionals }, io) {
    const flags = options as LoginExecutorSchema & { json?: boolean };
    const config = loadWorkspaceConfig(io.cwd, io.env);
    const normalized = normalizeLoginOptions({ ...flags, registry: positionals[0] }, config, { root: io.cwd, registryFrom: 'the command line' });
    const result = await login(normalized, { stdin: process.stdin, env: io.env });
    if (flags.json) {
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
