import { validateNamespace, validateRegistryHost, type AurenConfig } from '../config/options';
import { refuseCredentials } from '../config/registry-address';
import { inputError } from '../errors/errors';
import { repositoryPath } from '../config/repository';
import { isImmutableTag } from '../pipeline/push';
import type { RegistryClient } from '../registry/client';
import { isDigest } from '../registry/digest';
import { validateRepository } from '../registry/reference';
import type { PushRecord } from '../reports/records';
import { isValidTag, validateTag } from '../tags/grammar';
import { executeCopy, planCopy, type CopyPlan, type CopyPlanResult } from './copy-plan';

/**
 * Promote: give an image that is already in a registry more tags, or put it in another
 * registry, by digest and without rebuilding, so what runs in production is byte for byte what
 * was built, scanned and tested. Version tags stay immutable (`isImmutableTag`).
 */
export interface PromoteRequest {
  source: { registry: string; repository: string; reference: string };
  target: { registry: string; repository: string; tags: string[] };
}

export interface ResolvePromoteInput {
  project: string;
  /** The project's repository below the namespace (lib/config/repository.ts). */
  repository: string;
  config: AurenConfig;
  /** The project's push.json, when there is one. */
  record: PushRecord | undefined;
  /** Tag or digest; default the digest in push.json. */
  from: string | undefined;
  to: string[];
  /** `host[:port][/namespace]`. */
  toRegistry: string | undefined;
}

/** `host[:port][/namespace]` → its parts; the namespace is undefined when not written. */
export function parseRegistryTarget(value: string, origin: string): { registry: string; namespace: string | undefined } {
  const trimmed = value.trim();
  refuseCredentials(trimmed, origin);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw inputError(`invalid ${origin} "${value}": no scheme allowed`, `Write ${origin} as host[:port][/namespace], e.g. registry.example.com/auren.`);
  }
  const slash = trimmed.indexOf('/');
  const host = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const namespace = slash === -1 ? undefined : trimmed.slice(slash + 1).replace(/\/+$/, '');
  validateRegistryHost(host, origin);
  if (namespace !== undefined) validateNamespace(namespace, origin);
  return { registry: host, namespace };
}

/**
 * Where the image is and where it goes. The source is where docker-push put it (push.json),
 * else the configured registry and the project's repository; the target is the same repository
 * (new tags) or, with `toRegistry`, the same name below that registry's namespace.
 */
export function resolvePromote(input: ResolvePromoteInput): PromoteRequest {
  const { project, config, record } = input;
  if (record?.dryRun) {
    throw inputError(`${project}: push.json records a dry run, so the image was never pushed`, `Run \`nx run ${project}:docker-push\` first, or pass --from with a tag or digest.`);
  }
  const source = record
    ? { registry: record.registry, repository: record.repository }
    : { registry: config.registry, repository: repositoryPath(config, input.repository) };
  validateRepository(source.repository);

  let reference: string;
  if (input.from === undefined || input.from === '') {
    if (!record) {
      throw inputError(
        `${project}: nothing to promote: no push.json and no --from`,
        `Push first (\`nx run ${project}:docker-push\`), or pass --from=<tag or digest> of an image in ${source.registry}/${source.repository}.`,
      );
    }
    reference = record.digest;
  } else if (isDigest(input.from) || isValidTag(input.from)) {
    reference = input.from;
  } else {
    throw inputError(`invalid --from "${input.from}"`, 'Pass a tag (e.g. v1.2.3) or a digest (sha256:<64 hex>) of the image to promote.');
  }

  const destination = input.toRegistry ? parseRegistryTarget(input.toRegistry, 'toRegistry') : undefined;
  let tags = input.to.map((t) => validateTag(t));
  if (!tags.length && destination) {
    // Copying to another registry without new tags keeps the tags the image is known by.
    if (!isDigest(reference)) tags = [reference];
    else if (record && reference === record.digest) tags = record.tags;
  }
  if (!tags.length) {
    throw inputError(
      `${project}: no tags to promote to`,
      destination ? 'Pass --to=<tag>[,<tag>…] (promoting by digest to another registry needs the tags to write).' : 'Pass --to=<tag>[,<tag>…], e.g. --to=stable or --to=v1.2.3,latest.',
    );
  }

  let target: PromoteRequest['target'];
  if (destination) {
    const prefix = config.namespace ? `${config.namespace}/` : '';
    const name = prefix && source.repository.startsWith(prefix) ? source.repository.slice(prefix.length) : source.repository;
    const namespace = destination.namespace ?? config.namespace;
    target = { registry: destination.registry, repository: validateRepository(namespace ? `${namespace}/${name}` : name), tags };
  } else {
    target = { registry: source.registry, repository: source.repository, tags };
  }
  return { source: { ...source, reference }, target };
}

export interface PlanPromoteInput {
  request: PromoteRequest;
  sourceClient: RegistryClient;
  /** The same client as `sourceClient` when both are one registry. */
  targetClient: RegistryClient;
  immutableTags?: (tag: string) => boolean;
}

export function planPromote(input: PlanPromoteInput): Promise<CopyPlan> {
  return planCopy({
    from: { client: input.sourceClient, repository: input.request.source.repository, reference: input.request.source.reference },
    to: { client: input.targetClient, repository: input.request.target.repository, tags: input.request.target.tags },
    immutableTags: input.immutableTags ?? isImmutableTag,
  });
}

/**
 * Acts on a promote plan (`executeCopy`): content, then what is attached to the image, then the
 * tags. Version tags get the same guard as docker-push (`executeGuardedPush`): looked up again
 * just before the write and read back after it, so two promotes (or a promote and a push)
 * racing for one version tag never both report it created when the registry ends up naming
 * only one of them.
 */
export function executePromote(client: RegistryClient, plan: CopyPlan, immutableTags: (tag: string) => boolean = isImmutableTag): Promise<CopyPlanResult> {
  return executeCopy(client, plan, { immutableTags, verb: 'promote' });
}
