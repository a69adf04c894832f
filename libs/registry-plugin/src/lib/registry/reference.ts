import { credentialsInAddressError, inputError } from '../errors/errors';
import { redactReference, referenceHasCredentials } from '../errors/redact';
import { isValidTag } from './tag-grammar';
import { isDigest } from './digest';

/**
 * Image references with docker's conventions (distribution/reference `ParseNormalizedNamed`):
 * the first path component is a registry only if it contains "." or ":" or is `localhost`;
 * otherwise the registry is docker.io, and single-component names get the `library/` prefix.
 */
export interface ImageReference {
  /** `host[:port]`; `docker.io` for Docker Hub. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';

/** 127.0.0.0/8, localhost and [::1]: where plain HTTP may be tried (never assumed) without configuration. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : registry.split(':')[0];
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** OCI distribution spec, "Pulling manifests": `<name>` path components. */
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
/** docker/distribution `NameTotalLengthMax`, counted with the registry host. */
const NAME_TOTAL_LENGTH_MAX = 255;

const REFERENCE_HINT =
  'Write references as [registry/]repository[:tag][@sha256:<64 hex>], e.g. 127.0.0.1:5000/auren/auren-api:1.2.3.';

export function isValidRepository(name: string): boolean {
  return name.length <= NAME_TOTAL_LENGTH_MAX && REPOSITORY_RE.test(name);
}

export function validateRepository(name: string): string {
  if (!isValidRepository(name)) {
    throw inputError(
      `invalid repository name "${name}"`,
      'A repository is lower-case path components of [a-z0-9] joined by ".", "_", "__" or "-", separated by "/" (at most 255 characters), e.g. auren/auren-api.',
    );
  }
  return name;
}

function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

export function parseImageReference(ref: string): ImageReference {
  const input = ref.trim();
  if (!input) throw inputError('empty image reference', REFERENCE_HINT);
  // Before anything that would quote the reference back: `user:password@host/…` names a
  // registry with its credentials, which no message may repeat.
  if (referenceHasCredentials(input)) throw credentialsInAddressError(redactReference(input), 'an image reference', 'input');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    throw inputError(`invalid image reference "${ref}": no URL scheme allowed`, REFERENCE_HINT);
  }

  let rest = input;
  let digest: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    // What comes before the "@" is not repeated: it may be a user and password written in a way
    // the check above cannot tell from a mistyped digest (`user:pass@localhost:5000`).
    if (!isDigest(digest)) throw inputError(`invalid digest "${digest}" after "@" in an image reference`, REFERENCE_HINT);
  }

  let registry = DOCKER_HUB;
  const slash = rest.indexOf('/');
  if (slash !== -1 && looksLikeHost(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  }
  if (DOCKER_HUB_ALIASES.has(registry.toLowerCase())) registry = DOCKER_HUB;

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1 && !rest.slice(colon).includes('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) {
      throw inputError(
        `invalid tag "${tag}" in image reference "${ref}"`,
        'A tag is 1–128 characters from [A-Za-z0-9_.-] and must not start with "." or "-".',
      );
    }
  }

  let repository = rest;
  if (registry === DOCKER_HUB && repository && !repository.includes('/')) repository = `library/${repository}`;
  if (!REPOSITORY_RE.test(repository)) {
    const upper = /[A-Z]/.test(repository) ? ' (repository names must be lower case)' : '';
    throw inputError(`invalid repository "${repository}" in image reference "${ref}"${upper}`, REFERENCE_HINT);
  }
  if (registry.length + 1 + repository.length > NAME_TOTAL_LENGTH_MAX) {
    throw inputError(`image name in "${ref}" is longer than ${NAME_TOTAL_LENGTH_MAX} characters`, REFERENCE_HINT);
  }
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * `registry/repository[:tag][@digest]`, always fully qualified so it parses back to the same
 * value. With `familiar`, Docker Hub names are shortened the way docker prints them.
 */
export function formatReference(ref: ImageReference, options: { familiar?: boolean } = {}): string {
  let name = `${ref.registry}/${ref.repository}`;
  if (options.familiar && ref.registry === DOCKER_HUB) {
    name = ref.repository.startsWith('library/') ? ref.repository.slice('library/'.length) : ref.repository;
  }
  return `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}
