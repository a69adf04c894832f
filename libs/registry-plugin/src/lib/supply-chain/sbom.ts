import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { exec as defaultExec, which, type ExecOptions, type ExecResult } from '../exec/exec';

/**
 * The image's software bill of materials, in CycloneDX JSON, made by the real Trivy from the
 * OCI layout (`trivy image --input <layout>@<digest> --format cyclonedx`).
 *
 * Making an SBOM is an inventory: with `--format cyclonedx` Trivy turns vulnerability scanning
 * off unless `--scanners vuln` is given (https://trivy.dev/latest/docs/supply-chain/sbom/), so it
 * needs no vulnerability database. `--skip-db-update`, `--skip-java-db-update` and
 * `--offline-scan` make sure it never tries to download one (this machine, and air-gapped CI,
 * cannot reach ghcr.io).
 *
 * For a multi-platform index Trivy resolves the first manifest of the index: the SBOM then
 * describes that platform's packages, and says so in `metadata.component`.
 */

export const SBOM_FILE = 'sbom.cdx.json';
export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

export type ExecFn = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface SbomInput {
  layoutDir: string;
  /** Top-level digest in the layout's index.json (image.json's digest). */
  digest: string;
  outputFile: string;
  env?: NodeJS.ProcessEnv;
  exec?: ExecFn;
}

export interface SbomSummary {
  specVersion: string;
  components: number;
  /** Components with a `pkg:deb/...` purl (the image's dpkg status). */
  debianPackages: number;
  tool: string;
}

export type SbomOutcome =
  | { status: 'generated'; file: string; summary: SbomSummary }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; reason: string };

export function sbomArgs(layoutDir: string, digest: string, outputFile: string): string[] {
  return [
    'image',
    '--input',
    `${layoutDir}@${digest}`,
    '--format',
    'cyclonedx',
    '--output',
    outputFile,
    '--skip-db-update',
    '--skip-java-db-update',
    '--offline-scan',
    '--skip-version-check',
    '--disable-telemetry',
    '--quiet',
  ];
}

interface CycloneDxComponent {
  type?: unknown;
  name?: unknown;
  version?: unknown;
  purl?: unknown;
}

/** Checks the document is CycloneDX JSON and counts what it lists; throws with the reason if not. */
export function summarizeSbom(text: string): SbomSummary {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  if (!doc || doc['bomFormat'] !== 'CycloneDX' || typeof doc['specVersion'] !== 'string') {
    throw new Error('not a CycloneDX document (bomFormat "CycloneDX" and specVersion expected)');
  }
  const components = (doc['components'] ?? []) as CycloneDxComponent[];
  if (!Array.isArray(components)) throw new Error('"components" is not a list');
  const metadata = (doc['metadata'] ?? {}) as { tools?: { components?: Array<{ name?: string; version?: string }> } | Array<{ name?: string; version?: string }> };
  const tools = Array.isArray(metadata.tools) ? metadata.tools : (metadata.tools?.components ?? []);
  const tool = tools.map((t) => `${t.name ?? '?'} ${t.version ?? ''}`.trim()).join(', ') || 'unknown';
  return {
    specVersion: doc['specVersion'] as string,
    components: components.length,
    debianPackages: components.filter((c) => typeof c.purl === 'string' && c.purl.startsWith('pkg:deb/')).length,
    tool,
  };
}

/**
 * Never throws for an expected outcome: Trivy missing is `skipped`, Trivy failing or writing
 * something that is not CycloneDX is `failed` (and no file is left behind to be attached).
 */
export async function generateSbom(input: SbomInput): Promise<SbomOutcome> {
  const env = input.env ?? process.env;
  const run = input.exec ?? defaultExec;
  const trivy = await which('trivy', env);
  if (!trivy) return { status: 'skipped', reason: '`trivy` is not installed (not on PATH); no SBOM made' };
  await mkdir(dirname(input.outputFile), { recursive: true });
  await rm(input.outputFile, { force: true });
  try {
    await run(trivy, sbomArgs(input.layoutDir, input.digest, input.outputFile), { env });
    const summary = summarizeSbom(await readFile(input.outputFile, 'utf8'));
    return { status: 'generated', file: input.outputFile, summary };
  } catch (error) {
    await rm(input.outputFile, { force: true });
    return { status: 'failed', reason: `trivy could not make a CycloneDX SBOM: ${(error as Error).message}` };
  }
}
