export type CheckId = 'secrets' | 'size-budget' | 'root-user';
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skipped';

export type SecretRuleId =
  | 'private-key'
  | 'aws-access-key-id'
  | 'github-token'
  | 'digitalocean-token'
  | 'slack-token'
  | 'docker-config-auth';

/** Where a secret is; never the secret itself (`masked` keeps only a short, non-secret prefix). */
export interface SecretFinding {
  rule: SecretRuleId;
  /** Path inside the image, without a leading slash. */
  path: string;
  /** Digest of the (compressed) layer blob that contains the file. */
  layer: string;
  line?: number;
  masked: string;
  /**
   * A later layer deleted (whiteout) or replaced the file. The secret is still shipped: anyone who
   * pulls the image has the earlier layer.
   */
  removedInLayer?: { layer: string; how: 'whiteout' | 'overwritten' };
}

export interface CheckResult {
  id: CheckId;
  title: string;
  status: CheckStatus;
  message: string;
  hint?: string;
  secrets?: SecretFinding[];
  details?: Record<string, unknown>;
}
