/**
 * Builder adapters: one small interface, one implementation per engine, a factory with an
 * exhaustive switch. Every adapter writes a standard OCI image layout to `outputDir`; nothing
 * after the build reads an engine's image store.
 */
import type { LayerCache } from '../layer-cache/layer-cache';
export type BuilderKind = 'buildah' | 'docker' | 'podman';

export interface BuildRequest {
  /** Build context folder (absolute). */
  context: string;
  /** Dockerfile path (absolute). */
  dockerfile: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /** e.g. ['linux/amd64']; more than one builds an OCI index. Empty: the host platform. */
  platforms: string[];
  /** Multi-stage target, if any. */
  target: string | undefined;
  /** Where the OCI layout is written (created or replaced). */
  outputDir: string;
  /** Registries reached over plain HTTP (loopback or configured insecure). */
  insecureRegistries: string[];
  /** Certificate folder handed to the engine for registry TLS (`--cert-dir`). */
  certDir: string | undefined;
  /** Registry-backed build cache: repositories for buildah (`--cache-from`/`--cache-to`), refs for docker buildx. */
  cacheFrom: string[];
  cacheTo: string[];
  /**
   * Seconds since the epoch for every file and history timestamp and the config's `created`. The
   * build passes one fixed epoch (LAYER_EPOCH in lib/pipeline/build.ts), not the commit date: a
   * layer cached by an earlier commit keeps its first timestamp, so only a constant reproduces.
   */
  timestamp: number | undefined;
  /** Unique local name used while building; removed afterwards. */
  localName: string;
  env: NodeJS.ProcessEnv;
  /** Stream the engine's output. */
  verbose: boolean;
  /** Compressed layers of earlier exports (lib/layer-cache); default: the workspace's. */
  layerCache?: LayerCache;
}

export interface Builder {
  readonly kind: BuilderKind;
  /** True when the engine can build on this machine. */
  available(): Promise<boolean>;
  version(): Promise<string>;
  /** The argv arrays the build runs, in order (a value tests can assert). */
  plan(request: BuildRequest): string[][];
  build(request: BuildRequest): Promise<void>;
}

/** Flags every engine spells the same way: Dockerfile, build args, labels, target, platforms. */
export function commonBuildFlags(request: BuildRequest): string[] {
  return [
    '-f', request.dockerfile,
    ...Object.entries(request.buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    ...Object.entries(request.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...(request.target ? ['--target', request.target] : []),
    ...(request.platforms.length ? ['--platform', request.platforms.join(',')] : []),
  ];
}

/**
 * A second name for a single-platform build (`…/<project>:latest`), moved to each new build. It
 * keeps the last build's layers in the builder's cache: removing the build's own name afterwards
 * (`rmi`) would otherwise remove its untagged parent layers as well, and the next build would run
 * every step after the last shared one again (a `RUN` under a changed `COPY` in another stage
 * included). Builds of one project running at once only race for this name, never for the image
 * they export, which they read by their own name.
 */
export function lastBuildName(localName: string): string {
  return localName.replace(/:[^:/]+$/, '') + ':latest';
}

/** buildah and podman share these: reproducible timestamps, registry TLS trust, the local name. */
export function containersBuildFlags(request: BuildRequest): string[] {
  return [
    ...(request.timestamp !== undefined ? ['--timestamp', String(request.timestamp)] : []),
    ...(request.certDir ? ['--cert-dir', request.certDir] : []),
    ...(request.platforms.length > 1 ? ['--manifest', request.localName] : ['-t', request.localName, '-t', lastBuildName(request.localName)]),
  ];
}
