export interface LoginExecutorSchema {
  /** Registry host[:port]; default: the configured registry. */
  registry?: string;
  /** User name; default from the environment (DigitalOcean: the token, ghcr.io: GITHUB_ACTOR). */
  username?: string;
  /** Read the password or token from standard input. */
  passwordStdin?: boolean;
  /** Store through docker-credential-<helper>. */
  helper?: string;
  /** Folder holding docker's config.json. */
  dockerConfig?: string;
}
