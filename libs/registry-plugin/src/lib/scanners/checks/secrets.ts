import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { AurenError } from '../../errors/errors';
import { blobPath, type Descriptor } from '../oci-layout';
import type { CheckResult, SecretFinding, SecretRuleId } from './types';

/** Files above this size are not read: secrets live in small config and key files. */
export const MAX_SECRET_FILE_BYTES = 4 * 1024 * 1024;
/** NUL in the first bytes means binary; those are skipped. */
const BINARY_SNIFF_BYTES = 8192;
const MAX_FINDINGS_PER_FILE = 5;
const MAX_FINDINGS = 200;

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
const TEXT_RULES: readonly TextRule[] = [
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

/** `*` within a path segment, `**` across segments, `?` one character; patterns are image paths. */
export function globToRegExp(glob: string): RegExp {
  const source = glob.replace(/^\/+/, '');
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '*' && source[i + 1] === '*') {
      out += source[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += source[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

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

type Compression = 'gzip' | 'zstd' | 'none';

async function sniffCompression(file: string): Promise<Compression> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) return 'gzip';
    if (bytesRead === 4 && buffer.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await handle.close();
  }
}

function drain(stream: Readable, next: () => void): void {
  stream.on('end', () => next());
  stream.resume();
}

function readAll(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

interface LayerVisitor {
  file(path: string, content: Buffer): void;
  /** A whiteout: `path` (and everything under it) is deleted from lower layers. */
  whiteout(path: string): void;
  /** An opaque-directory marker: everything under `dir` from lower layers is hidden. */
  opaque(dir: string): void;
  /** Any other entry that replaces whatever lower layers had at `path`. */
  replaced(path: string): void;
}

/** Streams one layer's tar entries; at most one small file is held in memory at a time. */
async function walkLayer(file: string, compression: Exclude<Compression, 'zstd'>, visitor: LayerVisitor): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const path = normalizeEntryPath(header.name);
    const base = posix.basename(path);
    const dir = posix.dirname(path) === '.' ? '' : posix.dirname(path);
    // AUFS-style whiteouts, as the OCI image spec defines them for layer changesets.
    if (base === '.wh..wh..opq') {
      visitor.opaque(dir);
      return drain(stream, next);
    }
    if (base.startsWith('.wh.')) {
      visitor.whiteout(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
      return drain(stream, next);
    }
    if (header.type !== 'directory') visitor.replaced(path);
    const size = header.size ?? 0;
    if (header.type !== 'file' || size === 0 || size > MAX_SECRET_FILE_BYTES) return drain(stream, next);
    readAll(stream).then(
      (content) => {
        const sniff = content.subarray(0, BINARY_SNIFF_BYTES);
        if (!sniff.includes(0)) visitor.file(path, content);
        next();
      },
      (error) => next(error),
    );
  });
  const source = createReadStream(file);
  await pipeline(source, compression === 'gzip' ? createGunzip() : new PassThrough(), extract);
}

export interface SecretScanInput {
  layoutDir: string;
  /** Layers in order, lowest first (one list per platform; digests shared across platforms are read once). */
  layerSets: Descriptor[][];
  allowPaths: readonly string[];
}

/**
 * Secrets anywhere in the image's history. A file deleted or replaced by a later layer is still
 * reported (marked `removedInLayer`): the earlier layer is pushed and pulled with the image.
 */
export async function checkSecrets(input: SecretScanInput): Promise<CheckResult> {
  const allow = input.allowPaths.map(globToRegExp);
  const allowed = (path: string) => allow.some((re) => re.test(path));
  const findings: SecretFinding[] = [];
  const skippedLayers: string[] = [];
  const scanned = new Set<string>();
  let filesRead = 0;

  for (const layers of input.layerSets) {
    /** Findings from lower layers of this platform that are still visible in the filesystem. */
    let open: SecretFinding[] = [];
    for (const layer of layers) {
      const file = blobPath(input.layoutDir, layer.digest);
      const fresh: SecretFinding[] = [];
      const alreadyScanned = scanned.has(layer.digest);
      const compression = await sniffCompression(file).catch(() => {
        throw new AurenError('input', `layer ${layer.digest} is missing from ${input.layoutDir}`, 'Rebuild the image with the docker-build target.');
      });
      if (compression === 'zstd') {
        // Node 20 has no zstd decoder; say so instead of passing the layer silently.
        skippedLayers.push(layer.digest);
        continue;
      }
      const remove = (match: (path: string) => boolean, how: 'whiteout' | 'overwritten') => {
        open = open.filter((f) => {
          if (!match(f.path)) return true;
          f.removedInLayer ??= { layer: layer.digest, how };
          return false;
        });
      };
      try {
        await walkLayer(file, compression, {
          file(path, content) {
            filesRead++;
            if (alreadyScanned || allowed(path) || findings.length + fresh.length >= MAX_FINDINGS) return;
            for (const f of findSecretsInText(path, content.toString('latin1'))) fresh.push({ ...f, layer: layer.digest });
          },
          whiteout: (path) => remove((p) => p === path || p.startsWith(`${path}/`), 'whiteout'),
          opaque: (dir) => remove((p) => (dir ? p.startsWith(`${dir}/`) : true), 'whiteout'),
          replaced: (path) => remove((p) => p === path, 'overwritten'),
        });
      } catch (error) {
        if (error instanceof AurenError) throw error;
        throw new AurenError('input', `layer ${layer.digest} in ${input.layoutDir} is not a readable tar stream: ${(error as Error).message}`,
          'Rebuild the image with the docker-build target.');
      }
      scanned.add(layer.digest);
      findings.push(...fresh);
      open.push(...fresh);
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
