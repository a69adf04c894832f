import { inputError } from '../../lib/errors/errors';
import { copyPlanJson, promoteImage, type PromoteRequest } from '../../lib/promote';
import { formatReference, parseImageReference } from '../../lib/registry/reference';
import { isValidTag, validateTag } from '../../lib/tags/grammar';
import schema from '../../executors/promote/schema.json';
import type { Command } from '../command';
import { parseCommandLine, type CommandSpec } from '../options';
import { loadWorkspaceConfig } from '../workspace';

/**
 * `<src-ref> <dst-ref> [<more tags>…]`. The destination may be a bare tag, meaning the source
 * repository (the common "retag" case); otherwise it is a full reference with a tag.
 */
export function parsePromoteArgs(args: readonly string[]): PromoteRequest {
  return promoteRequest(parseCommandLine('promote', spec, args).positionals);
}

function promoteRequest([src, dst, ...more]: readonly string[]): PromoteRequest {
  const source = parseImageReference(src);
  const reference = source.digest ?? source.tag;
  if (!reference) {
    throw inputError(`source "${src}" names neither a tag nor a digest`, `Write it as ${formatReference({ ...source, tag: 'v1.2.3' })} or …@sha256:<digest>.`);
  }
  let target: { registry: string; repository: string; tags: string[] };
  if (!dst.includes('/') && !dst.includes('@') && isValidTag(dst)) {
    target = { registry: source.registry, repository: source.repository, tags: [dst] };
  } else {
    const parsed = parseImageReference(dst);
    if (parsed.digest) throw inputError(`destination "${dst}" has a digest`, 'A destination is written as tags; the digest is always the source\'s.');
    const tags = parsed.tag ? [parsed.tag] : [];
    if (!tags.length && !more.length) {
      throw inputError(`destination "${dst}" names no tag`, `Write it as ${formatReference({ ...parsed, tag: 'stable' })}, or list the tags after it.`);
    }
    target = { registry: parsed.registry, repository: parsed.repository, tags };
  }
  target.tags.push(...more.map((t) => validateTag(t)));
  return { source: { registry: source.registry, repository: source.repository, reference }, target };
}

const spec: CommandSpec = {
  schema,
  // The command line names source and destination as arguments, not as --from/--to.
  omit: ['from', 'to', 'toRegistry'],
  cli: { json: { type: 'boolean', description: 'Print the plan and the outcome as JSON.' } },
  positionals: [
    { name: 'src-ref', description: 'The image to promote, by tag or digest.', required: true },
    { name: 'dst-ref', description: 'A bare tag (same repository) or a full reference with a tag.', required: true },
    { name: 'tag', description: 'More tags for the destination.', variadic: true },
  ],
  missingPositional: 'promote needs a source and a destination',
  about: [
    'Gives the image <src-ref> points at (by tag or digest) the tag of <dst-ref> and any further',
    'tags listed, by digest: the manifests are copied byte for byte, so every platform and every',
    'digest stays the same.',
    '  same repository    only manifest PUTs (one per tag)',
    '  same registry      blobs are cross-repository mounted, none uploaded',
    '  another registry   only the blobs the target lacks are copied',
    'In another repository or registry, the artifacts attached to the image (SBOM, cosign',
    'signature, SLSA provenance: the sha256-<hex> referrers index) are copied with it, before the',
    'tags, and merged into the target\'s index; cosign\'s legacy sha256-<hex>.sig/.att tags are merged',
    'with the target\'s own. Signatures verify on the copy (same digest).',
    'Version tags (v1.2.3) are immutable: promoting a different image onto an existing one fails',
    'before anything is written. The plan is printed first; --dry-run stops there. latest is always',
    "written last. References follow docker's rules: without a registry host they name Docker Hub.",
    "Credentials: AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD, provider tokens, or docker's",
    'config.json and credential helpers (never printed).',
  ],
  examples: [
    'auren-registry promote 127.0.0.1:5000/auren/auren-api:main-1a2b3c4 v1.4.0 latest',
    'auren-registry promote 127.0.0.1:5000/auren/auren-api:v1.4.0 127.0.0.1:5000/auren/auren-api-prod:v1.4.0',
    'auren-registry promote 127.0.0.1:5000/auren/biometric-bridge@sha256:<digest> registry.digitalocean.com/auren/biometric-bridge:v2.0.1 latest',
    'auren-registry promote 127.0.0.1:5000/auren/auren-nginx:dev stable --dry-run --json',
  ],
};

export const promoteCommand: Command = {
  summary: 'Copy an image to new tags or another registry by digest (no rebuild, no re-upload).',
  spec,
  async run({ options, positionals }, io) {
    const request = promoteRequest(positionals);
    const config = loadWorkspaceConfig(io.cwd, io.env);
    const json = options.json === true;
    const lines: string[] = [];
    const outcome = await promoteImage({
      request,
      config,
      env: io.env,
      dryRun: options.dryRun === true,
      log: (line) => (json ? lines.push(line) : io.stdout(line + '\n')),
    });
    if (json) {
      io.stdout(JSON.stringify({ status: outcome.status, plan: copyPlanJson(outcome.plan), result: outcome.result }, null, 2) + '\n');
    }
    return 0;
  },
};
