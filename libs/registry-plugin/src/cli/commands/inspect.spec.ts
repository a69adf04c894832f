import { serveImage, startHostileRegistry, tinyImage, type HostileRegistry } from '../../testing/hostile-registry.testing';
import { AurenError, exitCodeFor } from '../../lib/errors/errors';
import { createRegistryClient } from '../../lib/registry/client';
import { parseImageReference } from '../../lib/registry/reference';
import { inspectReference } from './inspect';

/** `inspect` shows what the registry holds; a config it cannot read is an error, never a blank row. */
let registry: HostileRegistry;
beforeEach(async () => {
  registry = await startHostileRegistry();
});
afterEach(() => registry.stop());

const client = () => createRegistryClient({ registry: registry.host, insecure: true, retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 5, deadlineMs: 1_000 } });
const ref = () => parseImageReference(`${registry.host}/app:v1`);

it('reads the config of an image (control)', async () => {
  serveImage(registry, 'app', 'v1', tinyImage({ labels: { a: 'b' } }));
  const result = await inspectReference(client(), ref());
  expect(result.images[0]).toMatchObject({ platform: 'linux/amd64', labels: { a: 'b' } });
});

it.each([
  ['the registry fails', { kind: 'respond' as const, status: 500, body: 'boom' }],
  ['the bytes do not match the digest', { kind: 'respond' as const, status: 200, body: '{"os":"evil"}' }],
  ['the config is not JSON', undefined],
])('a config that cannot be read (%s) is an error with a non-zero exit code', async (_why, action) => {
  const image = tinyImage({});
  if (!action) {
    // A config blob whose bytes match its digest but are not JSON.
    const notJson = Buffer.from('not json at all');
    const edited = tinyImage({
      edit: (m) => {
        m.config.digest = registry.putBlob(notJson);
        m.config.size = notJson.length;
      },
    });
    serveImage(registry, 'app', 'v1', edited);
  } else {
    serveImage(registry, 'app', 'v1', image);
    registry.misbehave(({ path }) => (path.endsWith(image.config.digest) ? action : undefined));
  }
  const error = await inspectReference(client(), ref()).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AurenError);
  expect(exitCodeFor(error)).not.toBe(0);
});

it('an artifact whose config is not an image config is shown without reading it', async () => {
  const image = tinyImage({
    edit: (m) => {
      m.config.mediaType = 'application/vnd.dev.cosign.artifact.sig.v1+json';
    },
  });
  serveImage(registry, 'app', 'v1', image);
  registry.misbehave(({ path }) => (path.endsWith(image.config.digest) ? { kind: 'respond', status: 500 } : undefined));
  const result = await inspectReference(client(), ref());
  expect(result.images[0].platform).toBe('unknown');
});
