export type { Authenticator, CredentialHelpers, Credentials, HelperCredentials, Scope } from './types';
export { createAuthenticator, basicHeader, LOGIN_HINT, type AuthenticatorOptions, type CredentialsSource } from './authenticator';
export { parseChallenges, parseScope, normalizeScopes, scopesCover, type Challenge, type ParsedScope } from './challenge';
export { resolveCredentials, type ResolvedCredentials, type ResolveCredentialsOptions } from './credentials';
export { saveCredentials, removeCredentials, type StoreOptions, type SavedCredentials, type RemovedCredentials } from './store';
export { dockerAuthKey, dockerConfigPath, registryHost, isDockerHub, DOCKER_HUB_AUTH_KEY } from './docker-config';
