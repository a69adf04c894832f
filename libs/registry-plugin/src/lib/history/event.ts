import type { PushRecord, ScanVerdict } from '../reports/records';

/** One push attempt by the pipeline, successful or not. Stored in the registry (see store.ts). */
export interface PushEvent {
  schemaVersion: 1;
  /** Unique per event; also the suffix of its tag. */
  id: string;
  /** ISO 8601 time the push finished (or failed). */
  at: string;
  outcome: 'success' | 'failure';
  project: string;
  registry: string;
  repository: string;
  digest?: string;
  tags: string[];
  version?: string;
  /** Compressed image size (manifests + configs + layers). */
  sizeBytes?: number;
  durationMs?: number;
  scan?: { verdict: ScanVerdict; scanner?: string; critical?: number; high?: number; medium?: number; low?: number };
  git?: { sha: string; branch: string };
  /** CI run that pushed (GITHUB_RUN_ID / server URL), when known. */
  ci?: { runId?: string; url?: string };
  /** For failures: the error message (already free of secrets). */
  error?: string;
}

export type PushEventInput = Omit<PushEvent, 'schemaVersion' | 'id' | 'at'> & { at?: string; id?: string };

/** The event for a successful push, from the record docker-push writes. */
export function successEvent(record: PushRecord, extra: { durationMs?: number; env?: NodeJS.ProcessEnv } = {}): PushEventInput {
  return {
    outcome: 'success',
    at: record.pushedAt,
    project: record.project,
    registry: record.registry,
    repository: record.repository,
    digest: record.digest,
    tags: record.tags,
    version: record.version,
    sizeBytes: record.size,
    durationMs: extra.durationMs,
    scan: { ...record.scan },
    git: { ...record.git },
    ci: ciContext(extra.env ?? process.env),
  };
}

/** The event for a failed push; `error` should be the message the user saw. */
export function failureEvent(input: {
  project: string;
  registry: string;
  repository: string;
  error: string;
  digest?: string;
  version?: string;
  durationMs?: number;
  git?: { sha: string; branch: string };
  env?: NodeJS.ProcessEnv;
}): PushEventInput {
  const { env, ...rest } = input;
  return { ...rest, outcome: 'failure', tags: [], error: input.error.slice(0, 2000), ci: ciContext(env ?? process.env) };
}

function ciContext(env: NodeJS.ProcessEnv): PushEvent['ci'] {
  if (!env.GITHUB_RUN_ID) return undefined;
  const url = env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined;
  return { runId: env.GITHUB_RUN_ID, url };
}

/** Shape check of an event read back from the registry; anything else is skipped, not trusted. */
export function isPushEvent(value: unknown): value is PushEvent {
  const e = value as Partial<PushEvent> | null;
  return (
    !!e &&
    typeof e === 'object' &&
    e.schemaVersion === 1 &&
    typeof e.id === 'string' &&
    typeof e.at === 'string' &&
    !Number.isNaN(Date.parse(e.at)) &&
    (e.outcome === 'success' || e.outcome === 'failure') &&
    typeof e.repository === 'string' &&
    Array.isArray(e.tags)
  );
}
