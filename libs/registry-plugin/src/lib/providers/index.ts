export * from './types';
export { providerFor, providerKindFor, DEFAULT_BASE_URLS, type ProviderOptions } from './factory';
export { ProviderRateLimitError, readRateLimit, nextLinkFromHeader } from './http';
export { createDigitalOceanProvider, gcStateOf, splitDoRepository, type DigitalOceanProvider, type DigitalOceanOptions } from './digitalocean';
export { createGitHubProvider, splitGhcrRepository, type GitHubProvider, type GitHubOptions } from './github';
export { createDockerHubProvider, splitHubRepository, type DockerHubProvider, type DockerHubOptions } from './dockerhub';
export { loginCredentials, registryLogin, readSecret, type LoginInput, type LoginResult, type LoginCredentials } from './login';
