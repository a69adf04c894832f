import { sha256Digest } from './digest';
import { isIndex, layoutVersion, ManifestSyntaxError, parseConfig, parseIndex, parseManifest, tryParseConfig, tryParseManifest, walkImage, type ManifestFetch, type RawManifest } from './image-graph';
import { DOCKER_MANIFEST_LIST, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from './media-types';

const descriptor = (mediaType: string, content: string, extra: object = {}) => ({ mediaType, digest: sha256Digest(content), size: content.length, ...extra });

describe('isIndex', () => {
  it.each<[string, string | undefined, object, boolean]>([
    ['OCI index media type', OCI_INDEX, {}, true],
    ['Docker manifest list media type', DOCKER_MANIFEST_LIST, {}, true],
    ['OCI manifest media type', OCI_MANIFEST, { manifests: [] }, false],
    ['no media type, manifests and no config', undefined, { manifests: [] }, true],
    ['no media type, manifests and a config', undefined, { manifests: [], config: descriptor(OCI_CONFIG, '{}') }, false],
    ['no media type, layers only', undefined, { layers: [] }, false],
  ])('%s', (_name, mediaType, document, expected) => {
    expect(isIndex(mediaType, document)).toBe(expected);
  });
});

describe('parseManifest', () => {
  it('reads a manifest: config, layers, annotations; the caller’s media type wins', () => {
    const config = descriptor(OCI_CONFIG, '{}');
    const layer = descriptor(OCI_LAYER_GZIP, 'layer');
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer], annotations: { a: 'b' } }));
    expect(parseManifest(body)).toMatchObject({ kind: 'manifest', mediaType: OCI_MANIFEST, config, layers: [layer], children: [], annotations: { a: 'b' } });
    expect(parseManifest(body, 'application/vnd.docker.distribution.manifest.v2+json').mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it.each([
    ['not JSON', '<html>', /expected a JSON manifest, got "<html>"/],
    ['a JSON array', '[]', /not a schemaVersion 2/],
    ['schemaVersion 1', '{"schemaVersion":1}', /not a schemaVersion 2/],
  ])('refuses %s (tryParseManifest: undefined)', (_name, text, message) => {
    expect(() => parseManifest(Buffer.from(text))).toThrow(message);
    expect(tryParseManifest(Buffer.from(text))).toBeUndefined();
  });
});

describe('parseIndex', () => {
  it('reads an OCI layout index.json with or without a media type', () => {
    const child = descriptor(OCI_MANIFEST, 'm');
    expect(parseIndex(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [child] }))).children).toEqual([child]);
    expect(parseIndex(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }))).kind).toBe('index');
  });
  it.each([
    ['a manifest', { schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, '{}'), layers: [] }],
    ['schemaVersion 1', { schemaVersion: 1, manifests: [] }],
    ['an index media type without a list', { schemaVersion: 2, mediaType: OCI_INDEX }],
  ])('refuses %s', (_name, document) => {
    expect(() => parseIndex(Buffer.from(JSON.stringify(document)))).toThrow(ManifestSyntaxError);
  });
});

describe('parseConfig', () => {
  it('keeps every field and their order (rewriters write the object back)', () => {
    const text = '{"created":"2024-01-01T00:00:00Z","architecture":"arm64","os":"linux","config":{"Labels":{"b":"2","a":"1"}},"rootfs":{"type":"layers","diff_ids":[]}}';
    expect(JSON.stringify(parseConfig(Buffer.from(text)))).toBe(text);
  });
  it.each([
    ['not JSON', 'nope', undefined],
    ['an array', '[]', undefined],
    ['null', 'null', undefined],
    ['over the cap', '{"os":"linux"}', 5],
  ])('refuses %s; the tolerant reader gives undefined', (_name, text, cap) => {
    expect(() => parseConfig(Buffer.from(text), cap)).toThrow(ManifestSyntaxError);
    expect(tryParseConfig(Buffer.from(text), cap)).toBeUndefined();
  });
});

describe('layoutVersion', () => {
  it('reads the marker; a marker without a version gives undefined; bad JSON throws', () => {
    expect(layoutVersion(Buffer.from('{"imageLayoutVersion":"1.0.0"}'))).toBe('1.0.0');
    expect(layoutVersion(Buffer.from('{}'))).toBeUndefined();
    expect(layoutVersion(Buffer.from('null'))).toBeUndefined();
    expect(() => layoutVersion(Buffer.from('{'))).toThrow(ManifestSyntaxError);
  });
});

describe('walkImage', () => {
  // A registry's manifest store as a map: the walk's order and dedup are pure logic.
  const store = new Map<string, RawManifest>();
  const put = (document: object, mediaType: string): string => {
    const body = Buffer.from(JSON.stringify(document));
    const digest = sha256Digest(body);
    store.set(digest, { digest, mediaType, body });
    return digest;
  };
  const config = descriptor(OCI_CONFIG, '{"os":"linux"}');
  const shared = descriptor(OCI_LAYER_GZIP, 'shared layer');
  const amd64 = put({ schemaVersion: 2, config, layers: [shared, descriptor(OCI_LAYER_GZIP, 'amd64')] }, OCI_MANIFEST);
  const arm64 = put({ schemaVersion: 2, config, layers: [shared] }, OCI_MANIFEST);
  const missing = sha256Digest('never pushed');
  const child = (digest: string, architecture: string) => ({ mediaType: OCI_MANIFEST, digest, size: store.get(digest)?.body.length ?? 1, platform: { os: 'linux', architecture } });
  const index = put({ schemaVersion: 2, manifests: [child(amd64, 'amd64'), child(arm64, 'arm64')] }, OCI_INDEX);
  const broken = put({ schemaVersion: 2, manifests: [child(amd64, 'amd64'), child(missing, 's390x')] }, OCI_INDEX);
  store.set('1.0.0', store.get(index) as RawManifest);
  const fetch: ManifestFetch = async (ref) => store.get(ref) ?? 'not-found';

  it('lists children before their index, platforms from the index, each blob once', async () => {
    const graph = await walkImage(fetch, ['1.0.0', index], { concurrency: 4 });
    expect(graph.nodes.map((n) => n.digest)).toEqual([amd64, arm64, index]);
    expect(graph.nodes.map((n) => n.platform)).toEqual(['linux/amd64', 'linux/arm64', undefined]);
    expect(graph.blobs.map((b) => b.digest)).toEqual([config.digest, shared.digest, sha256Digest('amd64')]);
    expect(graph.missing).toEqual([]);
  });

  it('reports missing references, or stops when the caller says so', async () => {
    const seen = new Set<string>();
    const graph = await walkImage(fetch, [broken, 'gone'], { seen });
    expect(graph.missing.sort()).toEqual([missing, 'gone'].sort());
    expect(seen.has(amd64)).toBe(true);
    // A shared `seen` skips what an earlier walk fetched.
    expect((await walkImage(fetch, [index], { seen })).nodes.map((n) => n.digest)).toEqual([arm64, index]);
    await expect(
      walkImage(fetch, [broken], { onMissing: (ref, parent) => { throw new Error(`${parent} lists ${ref}`); } }),
    ).rejects.toThrow(`${broken} lists ${missing}`);
  });
});
