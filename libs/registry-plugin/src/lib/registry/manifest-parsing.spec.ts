import fc from 'fast-check';
import { AurenError } from '../errors/errors';
import { isDigest } from './digest';
import { ManifestSyntaxError, parseConfig, parseIndex, parseManifest, type ParsedManifest } from './image-graph';
import { OCI_INDEX, OCI_MANIFEST } from './media-types';

/**
 * Manifests and indexes are outside input (registries, layouts): whatever the bytes, parsing
 * returns a manifest whose descriptors are checked, or fails with a typed error.
 */
const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });
const digest = fc.oneof(
  { weight: 4, arbitrary: hex64.map((h) => `sha256:${h}`) },
  { weight: 1, arbitrary: fc.constantFrom('sha256:../../x', 'sha256:', 'md5:abc', `sha256:${'A'.repeat(64)}`) },
  { weight: 1, arbitrary: fc.anything() },
);
const size = fc.oneof({ weight: 4, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, Number.MAX_SAFE_INTEGER + 2, '12', null) });
const descriptor = fc.record(
  {
    mediaType: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('application/vnd.oci.image.layer.v1.tar+gzip', OCI_MANIFEST) }, { weight: 1, arbitrary: fc.anything() }),
    digest,
    size,
    platform: fc.oneof(fc.record({ os: fc.string(), architecture: fc.string() }), fc.anything()),
    annotations: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()),
  },
  { requiredKeys: ['mediaType', 'digest', 'size'] },
);
const manifestLike = fc.record(
  {
    schemaVersion: fc.oneof({ weight: 5, arbitrary: fc.constant(2) }, { weight: 1, arbitrary: fc.anything() }),
    mediaType: fc.oneof(fc.constantFrom(OCI_MANIFEST, OCI_INDEX), fc.anything()),
    config: fc.oneof({ weight: 3, arbitrary: descriptor }, { weight: 1, arbitrary: fc.anything() }),
    layers: fc.oneof({ weight: 3, arbitrary: fc.array(descriptor, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.anything() }),
    manifests: fc.oneof({ weight: 3, arbitrary: fc.array(descriptor, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.anything() }),
    subject: descriptor,
    annotations: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()),
  },
  { requiredKeys: [] },
);
const bytes = fc.oneof(
  manifestLike.map((m) => Buffer.from(JSON.stringify(m) ?? 'null')),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.string().map((s) => Buffer.from(s)),
);

function checkedDescriptors(parsed: ParsedManifest) {
  return [parsed.config, ...parsed.layers, ...parsed.children].filter((d) => d !== undefined);
}

function outcome(parse: () => ParsedManifest): ParsedManifest | undefined {
  try {
    return parse();
  } catch (error) {
    expect(error).toBeInstanceOf(AurenError);
    expect(error).toBeInstanceOf(ManifestSyntaxError);
    return undefined;
  }
}

describe('manifest and index parsing', () => {
  it('gives checked descriptors or a typed error, for any bytes', () => {
    fc.assert(
      fc.property(bytes, fc.option(fc.constantFrom(OCI_MANIFEST, OCI_INDEX, 'text/html'), { nil: undefined }), (body, mediaType) => {
        const parsed = outcome(() => parseManifest(body, mediaType));
        if (!parsed) return;
        for (const d of checkedDescriptors(parsed)) {
          expect(isDigest(d.digest)).toBe(true);
          expect(Number.isSafeInteger(d.size) && d.size >= 0).toBe(true);
          expect(typeof d.mediaType).toBe('string');
        }
        expect(typeof parsed.annotations).toBe('object');
      }),
      { numRuns: 3000 },
    );
  });

  it('an index parse insists on a list of manifests', () => {
    fc.assert(
      fc.property(bytes, (body) => {
        const parsed = outcome(() => parseIndex(body));
        if (parsed) expect(parsed.kind).toBe('index');
      }),
      { numRuns: 1000 },
    );
  });

  it('config parsing fails only with a typed error', () => {
    fc.assert(
      fc.property(bytes, (body) => {
        try {
          parseConfig(body, 64);
        } catch (error) {
          expect(error).toBeInstanceOf(ManifestSyntaxError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a well-formed manifest keeps its descriptors (control)', () => {
    const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'a'.repeat(64)}`, size: 3 };
    const parsed = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...layer, mediaType: 'application/vnd.oci.image.config.v1+json' }, layers: [layer] })));
    expect(parsed.layers).toEqual([layer]);
  });
});
