import { AurenError, inputError } from '../../lib/errors/errors';
import { connectRegistry } from '../../lib/connect/connect';
import { formatBytes, textTable } from '../../lib/reports/format';
import type { RegistryClient } from '../../lib/registry/client';
import { ManifestSyntaxError, parseManifest, readConfig, type ParsedManifest } from '../../lib/registry/image-graph';
import { formatPlatform, type Platform } from '../../lib/registry/media-types';
import { DOCKER_HUB, formatReference, parseImageReference, type ImageReference } from '../../lib/registry/reference';
import type { Command } from '../command';
import schema from '../schemas/inspect.json';
import { loadWorkspaceConfig } from '../workspace';

export interface InspectedImage {
  platform: string;
  digest: string;
  mediaType: string;
  /** Config plus layers, compressed, as stored in the registry. */
  sizeBytes: number;
  layers: number;
  created?: string;
  user?: string;
  labels: Record<string, string>;
}

export interface Inspection {
  reference: string;
  digest: string;
  mediaType: string;
  kind: 'index' | 'manifest';
  images: InspectedImage[];
  annotations: Record<string, string>;
}

interface ImageConfig {
  created?: string;
  os?: string;
  architecture?: string;
  variant?: string;
  config?: { Labels?: Record<string, string> | null; User?: string };
}

/** Config media types of runnable images; artifacts (signatures, SBOMs) carry other configs, which are not read. */
const IMAGE_CONFIG = /^application\/vnd\.(oci\.image\.config\.v1|docker\.container\.image\.v1)\+json$/;

function parsed(body: Buffer, what: string): ParsedManifest {
  try {
    return parseManifest(body);
  } catch (error) {
    if (error instanceof ManifestSyntaxError) throw new AurenError('registry', `${what} is not a valid manifest: ${error.message}`, error.hint);
    throw error;
  }
}

/**
 * A reference without a registry host means the configured registry (and namespace for a bare
 * name), not Docker Hub: `auren-api:1.2.3` is the image this pipeline pushed. Write
 * `docker.io/...` to mean Docker Hub.
 */
export function resolveReference(ref: string, registry: string, namespace: string): ImageReference {
  const parsed = parseImageReference(ref);
  const explicitHub = /^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//.test(ref.trim());
  if (parsed.registry !== DOCKER_HUB || explicitHub) return parsed;
  const name = ref.trim().split(/[:@]/)[0];
  const prefix = !name.includes('/') && namespace ? `${namespace}/` : '';
  return parseImageReference(`${registry}/${prefix}${ref.trim()}`);
}

async function inspectManifest(
  client: RegistryClient,
  repository: string,
  digest: string,
  mediaType: string,
  manifest: ParsedManifest,
  platform?: Platform,
): Promise<InspectedImage> {
  let config: ImageConfig = {};
  const descriptor = manifest.config;
  // A config that cannot be read is an error, never an empty row: inspect is how a user checks
  // what the registry really holds.
  if (descriptor && IMAGE_CONFIG.test(descriptor.mediaType)) {
    const read = await readConfig(client, repository, descriptor.digest, { size: descriptor.size });
    if (!read) {
      throw new AurenError('registry', `config ${descriptor.digest} of ${repository}@${digest} is not a JSON object`, 'The image is damaged in the registry; push it again.');
    }
    config = read as ImageConfig;
  }
  const os = platform?.os ?? config.os ?? '';
  const architecture = platform?.architecture ?? config.architecture ?? '';
  return {
    platform: os || architecture ? formatPlatform({ os, architecture, variant: platform?.variant ?? config.variant }) : 'unknown',
    digest,
    mediaType,
    sizeBytes: (descriptor?.size ?? 0) + manifest.layers.reduce((sum, layer) => sum + layer.size, 0),
    layers: manifest.layers.length,
    ...(config.created ? { created: config.created } : {}),
    ...(config.config?.User !== undefined ? { user: config.config.User } : {}),
    labels: config.config?.Labels ?? {},
  };
}

export async function inspectReference(client: RegistryClient, ref: ImageReference): Promise<Inspection> {
  const wanted = ref.digest ?? ref.tag ?? 'latest';
  const top = await client.manifestGet(ref.repository, wanted);
  if (top === 'not-found') {
    throw inputError(`${formatReference({ ...ref, tag: ref.digest ? undefined : wanted })} does not exist`, 'List what is there with `auren-registry ls <repository>`.');
  }
  const reference = formatReference({ ...ref, ...(ref.digest || ref.tag ? {} : { tag: 'latest' }) });
  const manifest = parseManifest(top.body, top.mediaType);
  if (manifest.kind === 'index') {
    const images: InspectedImage[] = [];
    for (const child of manifest.children) {
      const got = await client.manifestGet(ref.repository, child.digest);
      if (got === 'not-found') continue;
      const childManifest = parsed(got.body, `${ref.repository}@${child.digest}`);
      if (childManifest.kind === 'index') continue;
      images.push(await inspectManifest(client, ref.repository, child.digest, got.mediaType, childManifest, child.platform));
    }
    return { reference, digest: top.digest, mediaType: top.mediaType, kind: 'index', images, annotations: manifest.annotations };
  }
  return {
    reference,
    digest: top.digest,
    mediaType: top.mediaType,
    kind: 'manifest',
    images: [await inspectManifest(client, ref.repository, top.digest, top.mediaType, manifest)],
    annotations: manifest.annotations,
  };
}

export function formatInspection(result: Inspection): string {
  const lines = [
    `${result.reference}`,
    `  digest:     ${result.digest}`,
    `  media type: ${result.mediaType} (${result.kind})`,
    '',
    textTable(
      ['platform', 'size', 'layers', 'created', 'digest'],
      result.images.map((i) => [i.platform, formatBytes(i.sizeBytes), String(i.layers), i.created ?? '', i.digest.slice(0, 19)]),
    ),
  ];
  for (const image of result.images) {
    const labels = Object.entries(image.labels).sort(([a], [b]) => a.localeCompare(b));
    if (!labels.length) continue;
    lines.push('', `labels (${image.platform}):`, ...labels.map(([k, v]) => `  ${k}=${v}`));
  }
  return lines.join('\n');
}

export const inspectCommand: Command = {
  summary: 'Show an image\'s manifest or index: platforms, sizes, labels.',
  spec: {
    schema,
    positionals: [{ name: 'reference', description: 'Image reference: name:tag or name@sha256:…, with or without a registry host.', required: true }],
    examples: [
      'auren-registry inspect auren-api:1.2.3',
      'auren-registry inspect 127.0.0.1:5000/auren/auren-nginx@sha256:…',
      'auren-registry inspect registry.digitalocean.com/auren/biometric-bridge:latest --json',
    ],
  },
  async run({ options, positionals }, io) {
    const ref = positionals[0];
    if (!ref) throw inputError('inspect needs an image reference', 'e.g. `auren-registry inspect auren-api:1.2.3`.');
    const config = loadWorkspaceConfig(io.cwd, io.env);
    const resolved = resolveReference(ref, config.registry, config.namespace);
    const client = await connectRegistry(config, io.env, resolved.registry);
    const result = await inspectReference(client, resolved);
    io.stdout((options.json ? JSON.stringify(result, null, 2) : formatInspection(result)) + '\n');
    return 0;
  },
};
