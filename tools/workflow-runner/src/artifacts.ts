/**
 * Stand-ins for the actions that move files between jobs and to GitHub: actions/upload-artifact
 * and actions/download-artifact (v4) keep artifacts in a folder on this machine, so a job that
 * downloads gets exactly the files an earlier job uploaded (the checkout of each job has cleaned
 * everything else away); github/codeql-action/upload-sarif checks the SARIF it would send and
 * records it, since only GitHub can receive it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { matchFiles, searchPath } from './glob';
import type { StandIn } from './runner';

/** The paths of a `with.path` input: one per line, as the actions read it. */
const lines = (text: string | undefined) => (text ?? '').split('\n').map((line) => line.trim()).filter(Boolean);

/** The deepest folder that holds every search path: upload-artifact's root, below which files keep their relative paths. */
function commonFolder(paths: string[]): string {
  const split = paths.map((path) => path.split(sep));
  const common: string[] = [];
  for (let i = 0; split.every((parts) => i < parts.length && parts[i] === split[0][i]); i++) common.push(split[0][i]);
  return common.join(sep) || sep;
}

export interface ArtifactStore {
  /** The folder holding one sub-folder per artifact. */
  dir: string;
  upload: StandIn;
  download: StandIn;
  /** Names of the artifacts uploaded so far. */
  names(): Promise<string[]>;
}

/**
 * One workflow run's artifacts. Like v4: a name is uploaded once per run (a second upload of the
 * same name fails unless `overwrite: true`), `if-no-files-found` is warn by default, and a
 * download without `name` takes every artifact matching `pattern`, each into a folder of its
 * name unless `merge-multiple: true`.
 */
export function artifactStore(dir: string): ArtifactStore {
  const names = async () => (existsSync(dir) ? (await readdir(dir)).sort() : []);
  const upload: StandIn = async (_step, ctx) => {
    const name = ctx.with.name || 'artifact';
    const patterns = lines(ctx.with.path);
    if (!patterns.length) throw new Error('upload-artifact: input path is required');
    const files = matchFiles(ctx.cwd, patterns);
    const target = join(dir, name);
    if (existsSync(target) && ctx.with.overwrite !== 'true') throw new Error(`upload-artifact: an artifact named "${name}" was already uploaded in this run`);
    if (!files.length) {
      const mode = ctx.with['if-no-files-found'] || 'warn';
      const message = `No files were found with the provided path: ${patterns.join(', ')}. No artifacts will be uploaded.`;
      if (mode === 'error') throw new Error(message);
      if (mode === 'warn') ctx.log(`::warning::${message}`);
      return;
    }
    const root = commonFolder(patterns.filter((p) => !p.startsWith('!')).map((p) => searchPath(ctx.cwd, p)).map((p) => (existsSync(p) && statSync(p).isFile() ? dirname(p) : p)));
    await mkdir(target, { recursive: true });
    for (const file of files) {
      const destination = join(target, relative(root, file));
      await mkdir(dirname(destination), { recursive: true });
      await cp(file, destination);
    }
    const digest = createHash('sha256');
    for (const file of files) digest.update(relative(root, file)).update(readFileSync(file));
    ctx.setOutput('artifact-id', String((await names()).length));
    ctx.setOutput('artifact-digest', digest.digest('hex'));
    ctx.record('artifact', name);
    ctx.log(`upload-artifact (stand-in): ${name}: ${files.length} file(s) from ${relative(ctx.cwd, root) || '.'}`);
  };
  const download: StandIn = async (_step, ctx) => {
    const into = resolve(ctx.cwd, ctx.with.path || '.');
    const available = await names();
    let chosen: string[];
    if (ctx.with.name) {
      if (!available.includes(ctx.with.name)) throw new Error(`download-artifact: no artifact named "${ctx.with.name}" in this run (uploaded: ${available.join(', ') || 'none'})`);
      chosen = [ctx.with.name];
    } else {
      const pattern = ctx.with.pattern ? new RegExp(`^${ctx.with.pattern.replace(/[.+^${}()|\\[\]]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`) : /.*/;
      chosen = available.filter((name) => pattern.test(name));
    }
    // One named artifact, or merge-multiple, lands in `path` itself; several land in path/<name>.
    const merge = Boolean(ctx.with.name) || ctx.with['merge-multiple'] === 'true';
    for (const name of chosen) {
      const destination = merge ? into : join(into, name);
      await mkdir(destination, { recursive: true });
      await cp(join(dir, name), destination, { recursive: true });
    }
    ctx.setOutput('download-path', into);
    ctx.log(`download-artifact (stand-in): ${chosen.join(', ') || 'nothing'} into ${relative(ctx.cwd, into) || '.'}`);
  };
  return { dir, upload, download, names };
}

/**
 * What GitHub code scanning needs of an upload (its "SARIF support" page): SARIF 2.1.0, at least
 * one run naming its tool, and results with a rule, a message and a location.
 */
export function sarifProblems(document: unknown): string[] {
  const problems: string[] = [];
  const doc = document as { version?: unknown; runs?: unknown };
  if (doc?.version !== '2.1.0') problems.push(`version is ${JSON.stringify(doc?.version)}, not "2.1.0"`);
  if (!Array.isArray(doc?.runs) || doc.runs.length === 0) return [...problems, 'no runs'];
  doc.runs.forEach((run: { tool?: { driver?: { name?: unknown } }; results?: unknown }, r) => {
    if (typeof run?.tool?.driver?.name !== 'string' || !run.tool.driver.name) problems.push(`runs[${r}].tool.driver.name is missing`);
    if (!Array.isArray(run?.results)) {
      problems.push(`runs[${r}].results is not an array`);
      return;
    }
    run.results.forEach((result: { ruleId?: unknown; message?: { text?: unknown }; locations?: unknown }, i) => {
      const at = `runs[${r}].results[${i}]`;
      if (typeof result?.ruleId !== 'string') problems.push(`${at}.ruleId is missing`);
      if (typeof result?.message?.text !== 'string') problems.push(`${at}.message.text is missing`);
      const locations = result?.locations as Array<{ physicalLocation?: { artifactLocation?: { uri?: unknown } } }> | undefined;
      if (!Array.isArray(locations) || !locations.length || typeof locations[0]?.physicalLocation?.artifactLocation?.uri !== 'string') {
        problems.push(`${at} has no location with an artifactLocation.uri`);
      }
    });
  });
  return problems;
}

/**
 * github/codeql-action/upload-sarif: reads `sarif_file` (a file, or every .sarif file of a
 * folder) as the action does, refuses what code scanning would refuse, and records the file with
 * its `category`. Sending it is the one part that needs GitHub.
 */
export const uploadSarif: StandIn = async (_step, ctx) => {
  const path = resolve(ctx.cwd, ctx.with.sarif_file || '../results');
  if (!existsSync(path)) throw new Error(`upload-sarif: ${ctx.with.sarif_file} does not exist`);
  const files = statSync(path).isDirectory() ? matchFiles(path, ['**/*.sarif']) : [path];
  if (!files.length) throw new Error(`upload-sarif: no .sarif file in ${ctx.with.sarif_file}`);
  for (const file of files) {
    let document: unknown;
    try {
      document = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`upload-sarif: ${relative(ctx.cwd, file)} is not JSON: ${(error as Error).message}`);
    }
    const problems = sarifProblems(document);
    if (problems.length) throw new Error(`upload-sarif: ${relative(ctx.cwd, file)} would be refused: ${problems.join('; ')}`);
    ctx.record('sarif', relative(ctx.cwd, file), { category: ctx.with.category ?? '' });
  }
  ctx.setOutput('sarif-id', createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 16));
};

