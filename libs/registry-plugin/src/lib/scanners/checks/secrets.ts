import { posix } from 'node:path';
import type { LayerCache } from '../../layer-cache/layer-cache';
import type { Descriptor } from '../../registry/media-types';
import { layerFactsFor, MAX_FINDINGS, type LayerFacts, type LayerFactsStats } from './layer-facts';
import type { CheckResult, SecretFinding, SecretRuleId } from './types';

export { MAX_SECRET_FILE_BYTES } from './layer-facts';
const MAX_FINDINGS_PER_FILE = 5;

interface TextRule {
  id: Exclude<SecretRuleId, 'docker-config-auth'>;
  re: RegExp;
  /** Matches that are documented placeholders, not credentials. */
  allow?: (match: string) => boolean;
  mask: (match: string) => string;
}

const prefixMask = (n: number) => (match: string) => `${match.slice(0, n)}…`;

/**
 * Token formats, from their issuers: GitHub (https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/),
 * DigitalOcean (`dop_v1_`/`doo_v1_`/`dor_v1_` + 64 hex), Slack (`xox[abposr]-`), AWS access key ids
 * (`AKIA`/`ASIA` + 16). AWS's own documentation key ends in `EXAMPLE` and ships inside botocore;
 * it is not a credential.
 */
export const TEXT_RULES: readonly TextRule[] = [
  {
    id: 'private-key',
    re: /-----BEGIN ((?:RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----/g,
    mask: (match) => match,
  },
  {
    id: 'aws-access-key-id',
    re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
    allow: (match) => match.endsWith('EXAMPLE'),
    mask: prefixMask(4),
  },
  { id: 'github-token', re: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b/g, mask: prefixMask(4) },
  { id: 'digitalocean-token', re: /\bdo[opr]_v1_[a-f0-9]{64}\b/g, mask: prefixMask(7) },
  { id: 'slack-token', re: /\bxox[abposr]-[0-9A-Za-z-]{10,}/g, mask: prefixMask(5) },
];

export { globToRegExp } from '../glob';
import { globToRegExp } from '../glob';

export function normalizeEntryPath(name: string): string {
  return posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Scans one text file's content; exported for table tests. */
export function findSecretsInText(path: string, content: string): Array<Omit<SecretFinding, 'layer'>> {
  const found: Array<Omit<SecretFinding, 'layer'>> = [];
  for (const rule of TEXT_RULES) {
    rule.re.lastIndex = 0;
    for (let m = rule.re.exec(content); m; m = rule.re.exec(content)) {
      if (rule.allow?.(m[0])) continue;
      found.push({ rule: rule.id, path, line: lineAt(content, m.index), masked: rule.mask(m[0]) });
      if (found.length >= MAX_FINDINGS_PER_FILE) return found;
    }
  }
  if (posix.basename(path) === 'config.json' && content.includes('"auths"')) {
    const auth = dockerConfigAuth(content);
    if (auth) found.push({ rule: 'docker-config-auth', path, masked: `${auth.registry}: ${auth.value.slice(0, 4)}…` });
  }
  return found;
}

/** A docker `config.json` carries a credential when an `auths` entry has a non-empty `auth`. */
function dockerConfigAuth(content: string): { registry: string; value: string } | undefined {
  try {
    const doc = JSON.parse(content) as { auths?: Record<string, { auth?: unknown; identitytoken?: unknown }> };
    for (const [registry, entry] of Object.entries(doc.auths ?? {})) {
      const value = entry?.auth ?? entry?.identitytoken;
      if (typeof value === 'string' && value.length > 0) return { registry, value };
    }
  } catch {
    const m = /"auth"\s*:\s*"([^"]+)"/.exec(content);
    if (m) return { registry: '?', value: m[1] };
  }
  return undefined;
}

export interface SecretScanInput {
  layoutDir: string;
  /** Layers in order, lowest first (one list per platform; digests shared across platforms are read once). */
  layerSets: Descriptor[][];
  allowPaths: readonly string[];
  /** Per-layer facts computed by an earlier scan; without it every layer is read. */
  cache?: LayerCache;
  /** Told how many layers were read and how many came from the cache. */
  onLayers?: (stats: LayerFactsStats) => void;
}

/** Whether a later layer's change (in entry order) hides `path`, and how. */
function removalIn(facts: LayerFacts, path: string): 'whiteout' | 'overwritten' | undefined {
  for (const [kind, entry] of facts.changes) {
    switch (kind) {
      case 'w':
        if (path === entry || path.startsWith(`${entry}/`)) return 'whiteout';
        break;
      case 'o':
        if (entry ? path.startsWith(`${entry}/`) : true) return 'whiteout';
        break;
      case 'r':
        if (path === entry) return 'overwritten';
        break;
      default: {
        const unhandled: never = kind;
        throw new Error(`unknown change kind ${String(unhandled)}`);
      }
    }
  }
  return undefined;
}

/**
 * Secrets anywhere in the image's history. A file deleted or replaced by a later layer is still
 * reported (marked `removedInLayer`): the earlier layer is pushed and pulled with the image.
 * The per-layer work (reading every text file) is done once per layer digest and cached; this
 * function only combines per-layer facts, so a cached scan and a full re-read give one result.
 */
export async function checkSecrets(input: SecretScanInput): Promise<CheckResult> {
  const allow = input.allowPaths.map(globToRegExp);
  const allowed = (path: string) => allow.some((re) => re.test(path));
  const distinct = [...new Map(input.layerSets.flat().map((l) => [l.digest, l])).values()];
  const { facts, stats } = await layerFactsFor(input.layoutDir, distinct, input.cache);
  input.onLayers?.(stats);

  const findings: SecretFinding[] = [];
  const skippedLayers: string[] = [];
  const scanned = new Set<string>();
  let filesRead = 0;

  for (const layers of input.layerSets) {
    /** Findings from lower layers of this platform that are still visible in the filesystem. */
    let open: SecretFinding[] = [];
    for (const layer of layers) {
      const layerFacts = facts.get(layer.digest);
      if (!layerFacts || layerFacts.compression === 'zstd') {
        // Node 20 has no zstd decoder; say so instead of passing the layer silently.
        skippedLayers.push(layer.digest);
        continue;
      }
      open = open.filter((f) => {
        const how = removalIn(layerFacts, f.path);
        if (!how) return true;
        f.removedInLayer ??= { layer: layer.digest, how };
        return false;
      });
      filesRead += layerFacts.textFiles;
      // A layer shared by several platforms is reported once, from the first platform that has it.
      const fresh: SecretFinding[] = scanned.has(layer.digest)
        ? []
        : layerFacts.secrets.filter((f) => !allowed(f.path)).map((f) => ({ ...f, layer: layer.digest }));
      scanned.add(layer.digest);
      const room = Math.max(0, MAX_FINDINGS - findings.length);
      findings.push(...fresh.slice(0, room));
      open.push(...fresh.slice(0, room));
    }
  }

  const base = { id: 'secrets' as const, title: 'Secrets in image layers', secrets: findings, details: { filesRead, skippedLayers } };
  if (findings.length > 0) {
    const removed = findings.filter((f) => f.removedInLayer).length;
    return {
      ...base,
      status: 'fail',
      message: `${findings.length} secret(s) found in image layers${removed ? ` (${removed} deleted by a later layer but still in the image history)` : ''}`,
      hint: 'Remove the secret from the build context and rotate it; pass build-time secrets with `RUN --mount=type=secret`. ' +
        'A file deleted in a later layer still ships in the earlier one. For known test fixtures, add the path to scan.secretAllowPaths.',
    };
  }
  if (skippedLayers.length > 0) {
    return { ...base, status: 'warn', message: `no secrets found, but ${skippedLayers.length} zstd layer(s) could not be read` };
  }
  return { ...base, status: 'pass', message: `no secrets found (${filesRead} text files read)` };
}
