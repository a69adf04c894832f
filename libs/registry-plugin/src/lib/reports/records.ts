/**
 * Files the pipeline writes under `dist/images/<project>/`:
 *   oci/          the OCI image layout (docker-build output)
 *   image.json    ImageRecord (docker-build output)
 *   scan/         report.json, report.sarif, report.txt, scanner raw output (scan output)
 *   push.json     PushRecord (docker-push; never cached)
 */
export const IMAGE_RECORD = 'image.json';
export const PUSH_RECORD = 'push.json';

export function imageDir(project: string): string {
  return `dist/images/${project}`;
}

export interface ImageRecord {
  schemaVersion: 1;
  project: string;
  /** Digest of the top-level manifest or index in `oci/index.json`. */
  digest: string;
  mediaType: string;
  platforms: string[];
  /** Compressed bytes: manifest(s) + configs + layers. */
  size: number;
  labels: Record<string, string>;
  builder: { name: string; version: string };
  /** Base image actually used (after mapping). */
  baseImage?: string;
  version?: string;
  createdAt: string;
}

export type ScanVerdict = 'pass' | 'warn' | 'blocked' | 'not-scanned';

export interface PushRecord {
  schemaVersion: 1;
  project: string;
  registry: string;
  repository: string;
  digest: string;
  tags: string[];
  version?: string;
  size: number;
  platforms: string[];
  scan: { verdict: ScanVerdict; scanner?: string; critical?: number; high?: number };
  git: { sha: string; branch: string };
  blobs: { uploaded: number; skipped: number; mounted: number; bytesUploaded: number };
  pushedAt: string;
  dryRun: boolean;
}
