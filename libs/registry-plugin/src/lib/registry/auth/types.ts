/**
 * The contract between the registry client and authentication. The client sends a request;
 * on 401 it hands the `WWW-Authenticate` challenge and the scopes it needs to `authorize`,
 * then retries once with the returned `Authorization` header value.
 */
export interface Credentials {
  username: string;
  /** Password, personal access token or API token. */
  password: string;
}

export interface ChallengeContext {
  /** The registry origin that sent the challenge. */
  origin: string;
}

/** `repository:<name>:pull,push`, `repository:<name>:delete`, … as in the token spec. */
export type Scope = string;

export interface Authenticator {
  /** A still-valid Authorization header for these scopes, without a round trip, if one is cached. */
  cached(registry: string, scopes: readonly Scope[]): string | undefined;
  /**
   * Answer a 401 challenge: returns the Authorization header value, or undefined for none.
   * `context.origin` is the origin (`https://host:port`) whose 401 carried the challenge; a
   * realm on plain HTTP is refused when that origin is HTTPS.
   */
  authorize(registry: string, challenge: string, scopes: readonly Scope[], context?: ChallengeContext): Promise<string | undefined>;
  /** Every secret this authenticator knows (for redaction of logs and errors). */
  secrets(): string[];
}

export interface HelperCredentials {
  username: string;
  secret: string;
}

/**
 * The docker-credential-helpers protocol (`docker-credential-<name> get|store|erase`, server URL
 * or JSON on stdin). Running a helper is a process, so the registry layer only names what it
 * needs; `exec/credential-helpers.ts` runs them and callers pass it in.
 */
export interface CredentialHelpers {
  /** undefined when the helper has nothing for this server. */
  get(helper: string, serverUrl: string, env?: NodeJS.ProcessEnv): Promise<HelperCredentials | undefined>;
  store(helper: string, serverUrl: string, creds: HelperCredentials, env?: NodeJS.ProcessEnv): Promise<void>;
  /** false when the helper had nothing stored. */
  erase(helper: string, serverUrl: string, env?: NodeJS.ProcessEnv): Promise<boolean>;
}
