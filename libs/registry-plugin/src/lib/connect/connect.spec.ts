import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeOptions } from '../config/options';
import { credentialsFor } from './connect';

describe('credentialsFor', () => {
  let dockerConfig: string;
  beforeAll(async () => {
    dockerConfig = await mkdtemp(join(tmpdir(), 'auren-docker-config-'));
  });
  afterAll(() => rm(dockerConfig, { recursive: true, force: true }));

  const env = () => ({
    DOCKER_CONFIG: dockerConfig,
    HOME: dockerConfig,
    AUREN_REGISTRY_USERNAME: 'ci',
    AUREN_REGISTRY_PASSWORD: 'pipeline-secret',
  });

  it.each([
    ['the configured registry gets AUREN_REGISTRY_* credentials', 'registry.example.com', 'registry.example.com', 'ci'],
    ['another registry (a promote target, Docker Hub) never does', 'registry.example.com', 'docker.io', undefined],
    ['nor a second self-hosted one', '127.0.0.1:5000', '127.0.0.1:6000', undefined],
  ])('%s', async (_name, configured, host, username) => {
    const config = normalizeOptions({ registry: configured }, {});
    const credentials = await credentialsFor(host, config, env());
    expect(credentials?.username).toBe(username);
  });
});
