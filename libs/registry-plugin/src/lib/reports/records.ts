import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { inputError } from '../errors/errors';

/**
 * The one owner of the files the pipeline writes under `dist/images/<project>/`: their names,
 * their types, and every reader and writer of them.
 *   oci/          the OCI image layout (docker-build output)
 *   image.json    ImageRecord (docker-build output)
 *   scan/         report.json, report.sarif, report.txt, scanner raw output (scan output)
 *   push.json     PushRecord (docker-push; never cached)
 *   provenance.json  BuildProvenance: what a build was made from and when (docker-build output,
 *                 only for images built here; lib/supply-chain/provenance.ts makes the statement)
 */
export const IMAGE_RECORD = 'image.json';
export const PUSH_RECORD = 'push.json';
export const PROVENANCE_RECORD = 'provenance.json';
/** The scan's combined report, relative to the project's folder. */
export const SCAN_REPORT = 'scan/report.json';

const IMAGES_DIR = 'dist/images';

/** `dist/images/<project>`, relative to the workspace root. */
export function imageDir(project: string): string {
  return `${IMAGES_DIR}/${project}`;
}

/** Projects that have a folder under dist/images, sorted. */
export function recordProjects(workspaceRoot: string): string[] {
  const dir = join(workspaceRoot, IMAGES_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** A record's JSON, or undefined when the file is not there; a file that is not JSON is an input error naming it. */
export function readRecordJson(path: string, hint: string): unknown {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw inputError(`${path} is not valid JSON: ${(error as Error).message}`, hint);
  }
}

async function writeRecord(path: string, record: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(record, null, 2) + '\n');
}

const rebuildHint = (project: string) => `Run \`nx run ${project}:docker-build\` again to rewrite it.`;
const repushHint = (project: string) => `Push the image again (nx run ${project}:docker-push) to rewrite it, or delete the file.`;

/** docker-build's record, which every later step starts from. */
export async function readImageRecord(artifactDir: string, project: string): Promise<ImageRecord> {
  const path = join(artifactDir, IMAGE_RECORD);
  if (!existsSync(path)) {
    throw inputError(`${project}: no built image at ${path}`, `Run \`nx run ${project}:docker-build\` first (docker-push depends on it).`);
  }
  return readRecordJson(path, rebuildHint(project)) as ImageRecord;
}

export async function writeImageRecord(artifactDir: string, record: ImageRecord): Promise<void> {
  await writeRecord(join(artifactDir, IMAGE_RECORD), record);
}

/** The project's push record as written, or undefined when it has not been pushed. */
export function readPushRecord(artifactDir: string, project = 'the project'): PushRecord | undefined {
  return readRecordJson(join(artifactDir, PUSH_RECORD), repushHint(project)) as PushRecord | undefined;
}

export async function writePushRecord(artifactDir: string, record: PushRecord): Promise<void> {
  await writeRecord(join(artifactDir, PUSH_RECORD), record);
}

/** docker-build's provenance inputs, or undefined for an image that was fetched rather than built here. */
export function readBuildProvenance(artifactDir: string, project = 'the project'): BuildProvenance | undefined {
  return readRecordJson(join(artifactDir, PROVENANCE_RECORD), rebuildHint(project)) as BuildProvenance | undefined;
}

export async function writeBuildProvenance(artifactDir: string, record: BuildProvenance | undefined): Promise<void> {
  const path = join(artifactDir, PROVENANCE_RECORD);
  // A fetched image has no build here: a record left by an earlier build must not describe it.
  if (!record) return rm(path, { force: true });
  await writeRecord(path, record);
}

/** Every project's push record under dist/images, by project name. */
export function readPushRecords(workspaceRoot: string): PushRecord[] {
  return recordProjects(workspaceRoot).flatMap((project) => readPushRecord(join(workspaceRoot, imageDir(project)), project) ?? []);
}

/** The scan's combined report (scanners/report.ts has its type), or undefined when the image was not scanned. */
export function readScanReport(artifactDir: string, project = 'the project'): unknown {
  return readRecordJson(join(artifactDir, SCAN_REPORT), `Run \`nx run ${project}:scan\` again to rewrite it.`);
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
  /** `cause`: why a `not-scanned` image was not, and what to do (scan/report.json's summary). */
  scan: { verdict: ScanVerdict; scanner?: string; critical?: number; high?: number; cause?: string };
  git: { sha: string; branch: string };
  blobs: { uploaded: number; skipped: number; mounted: number; bytesUploaded: number };
  pushedAt: string;
  dryRun: boolean;
  /** What docker-push attached to the digest after the push (written once it is done). */
  supplyChain?: SupplyChainRecord;
}

export interface SupplyChainRecord {
  sbom: { status: 'attached' | 'missing'; detail?: string };
  signature: { status: 'signed' | 'unsigned' | 'off'; detail?: string };
  provenance: { status: 'attested' | 'missing' | 'off'; detail?: string };
}

/**
 * What a build was made from and when: the inputs of its SLSA provenance. Unlike image.json it
 * depends on the machine and the clock (the git remote, start and finish times), so nothing
 * hashes it; push reads it only for the digest it names.
 */
export interface BuildProvenance {
  schemaVersion: 1;
  project: string;
  /** The image this build produced (image.json's digest). */
  digest: string;
  externalParameters: {
    dockerfile: string;
    context: string;
    platforms: string[];
    /** As given to the builder (base images pinned); values of secret-looking names are withheld. */
    buildArgs: Record<string, string>;
    target?: string;
  };
  source?: {
    /** `git+<remote or local path>` without credentials. */
    uri: string;
    /** HEAD when the build ran. */
    commit: string;
    ref?: string;
    /** The project's own last commit (what labels and timestamps describe). */
    projectCommit?: string;
    /** Uncommitted changes under the build context or the Dockerfile when the build ran. */
    dirty: boolean;
  };
  baseImage?: { reference: string; digest?: string };
  /** `/usr/share/auren/packages.lock` as each platform of the image carries it. */
  packageLocks: Array<{ platform: string; path: string; sha256: string }>;
  builder: { name: string; version: string };
  /** Where the build ran: a GitHub workflow, AUREN_PROVENANCE_BUILDER_ID, or this plugin on a workstation. */
  runner: { id: string; invocationId?: string };
  startedOn: string;
  finishedOn: string;
}
