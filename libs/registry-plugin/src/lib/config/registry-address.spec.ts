import fc from 'fast-check';
import { insecureRegistriesFor } from '../pipeline/build';
import { connectRegistry } from '../connect/connect';
import { parseRegistryTarget } from '../promote/promote';
import { parseImageReference } from '../registry/reference';
import { registryFlags } from '../connect/child-tools';
import { AurenError, formatError } from '../errors/errors';
import { normalizeOptions, parseRegistryOverride, validateRegistryHost } from './options';
import { isInsecureRegistry, redactAddress } from './registry-address';

const CREDENTIALS = 'registry address contains credentials; put them in AUREN_REGISTRY_USERNAME/AUREN_REGISTRY_PASSWORD (or a docker credential helper)';

describe('insecureRegistries: exact host[:port], host case-insensitive', () => {
  // [registry, listed as insecure, insecure?], a few rows a line.
  const rows: Array<[string, string[], boolean]> = [
    ['build-box:5000', ['build-box:5000'], true], ['Build-Box:5000', ['build-box:5000'], true], ['build-box:5000', ['BUILD-BOX:5000'], true],
    ['build-box:50001', ['build-box:5000'], false], ['build-box:500', ['build-box:5000'], false], ['build-box', ['build-box:5000'], false],
    ['build-box:5000', ['build-box'], false], ['evil-build-box:5000.example', ['build-box:5000'], false], ['build-box:5000.example', ['build-box:5000'], false],
    ['registry.example.com', ['example.com'], false], ['example.com', ['registry.example.com'], false], ['[fd00::1]:5000', ['[FD00::1]:5000'], true],
    ['evil-127.0.0.1:5000.example', ['127.0.0.1:5000'], false], ['127.0.0.1:50001', ['127.0.0.1:5000'], false],
  ];

  it.each(rows)('%s with insecureRegistries %j → %s', (registry, listed, expected) => {
    expect(isInsecureRegistry(registry, listed)).toBe(expected);
  });

  it.each(rows.filter(([registry]) => !registry.startsWith('127.')))('cosign registryFlags agree: %s with %j → %s', (registry, listed, expected) => {
    expect(registryFlags(registry, listed).length > 0).toBe(expected);
  });

  it.each(rows.filter(([registry]) => !registry.startsWith('127.')))('the registry client agrees (plain HTTP only when insecure): %s with %j → %s', async (registry, listed, expected) => {
    const config = normalizeOptions({ registry: 'ghcr.io', insecureRegistries: listed }, {});
    // An address that is not host[:port] at all is refused, which is not insecure either.
    const client = await connectRegistry(config, {}, registry).catch(() => undefined);
    expect(client?.baseUrl.startsWith('http://') ?? false).toBe(expected);
  });

  it('a build marks insecure only the listed registries it uses, spelled as the build writes them, and nothing by prefix', async () => {
    const config = normalizeOptions({ registry: 'Build-Box:5000', insecureRegistries: ['build-box:5000', 'build-box', 'mirror.internal:5000', 'other:5000'] }, {});
    const images = ['mirror.internal:50001/base/debian:12', 'Mirror.Internal:5000/base/python:3', 'evil-build-box:5000.example/x:1'];
    expect((await insecureRegistriesFor(config, images, {})).sort()).toEqual(['Build-Box:5000', 'Mirror.Internal:5000']);
  });

  it.each([
    ['registry.example.com/path', 'invalid registry address'],
    ['https://registry.example.com', 'invalid registry address'],
    ['*.example.com', 'invalid registry address'],
    ['a"\n[[registry]]\nlocation="ghcr.io', 'invalid registry address'],
  ])('an entry that is not host[:port] is refused: %j', (entry, message) => {
    expect(() => normalizeOptions({ insecureRegistries: [entry] }, {})).toThrow(message);
  });
});

describe('a registry address with credentials is refused without echoing them', () => {
  const SECRET = 'hunter2-Secret';
  const refused = (fn: () => unknown): AurenError => {
    try {
      fn();
    } catch (error) {
      return error as AurenError;
    }
    throw new Error('accepted');
  };
  const expectNoSecret = (error: AurenError) => {
    expect(error).toBeInstanceOf(AurenError);
    for (const text of [error.message, error.hint ?? '', error.stack ?? '', formatError(error, {}), JSON.stringify(error)]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('ci-user');
    }
  };

  it.each([
    [`https://ci-user:${SECRET}@registry.example.com/auren`, 'https://***@registry.example.com/auren'],
    [`ci-user:${SECRET}@registry.example.com:5000`, '***@registry.example.com:5000'],
    [`ci-user:${SECRET}@registry.example.com:5000/team/auren`, '***@registry.example.com:5000/team/auren'],
    [`${SECRET}@ghcr.io`, '***@ghcr.io'],
    [`ci-user:p@ss/w@${SECRET}@ghcr.io/org`, '***@ghcr.io/org'],
  ])('%s → shown as %s', (address, shown) => {
    expect(redactAddress(address)).toBe(shown);
    for (const fn of [
      () => validateRegistryHost(address, 'nx.json plugin option registry'),
      () => parseRegistryOverride(address),
      () => normalizeOptions({ registry: address }, {}),
      () => normalizeOptions({}, { AUREN_REGISTRY: address }),
      () => normalizeOptions({ insecureRegistries: [address] }, {}),
      () => parseRegistryTarget(address, 'toRegistry'),
    ]) {
      const error = refused(fn);
      expectNoSecret(error);
      expect(error.message).toContain(CREDENTIALS);
      expect(error.message).toContain(`"${shown}"`);
    }
  });

  it.each([
    [`ci-user:${SECRET}@127.0.0.1:5000/auren/auren-api:1.0.0`],
    [`https://ci-user:${SECRET}@127.0.0.1:5000/auren/auren-api:1.0.0`],
    [`ci-user:${SECRET}@ghcr.io/org/app@sha256:${'a'.repeat(64)}`],
    [`${SECRET}@ghcr.io`],
  ])('an image reference %s is refused the same way', (reference) => {
    const error = refused(() => parseImageReference(reference));
    expectNoSecret(error);
    expect(error.message).toContain(CREDENTIALS);
  });

  it('a reference that cannot be told from a mistyped digest is refused without repeating what precedes "@"', () => {
    const error = refused(() => parseImageReference(`ci-user:${SECRET}@localhost:5000`));
    expectNoSecret(error);
    expect(error.message).toBe('invalid digest "localhost:5000" after "@" in an image reference');
  });

  it('a base image mapping with credentials is refused', () => {
    const error = refused(() => normalizeOptions({ baseImages: { 'debian:12': `ci-user:${SECRET}@mirror.example.com/debian:12` } }, {}));
    expectNoSecret(error);
    expect(error.message).toContain(CREDENTIALS);
  });

  it('the registry client is never made for an address with credentials', async () => {
    const config = normalizeOptions({}, {});
    const error = await connectRegistry(config, {}, `ci-user:${SECRET}@127.0.0.1:5000`).catch((e: AurenError) => e);
    expectNoSecret(error as AurenError);
    expect((error as AurenError).message).toContain(CREDENTIALS);
  });

  it('digests, tags and ports are not credentials', () => {
    expect(parseImageReference(`127.0.0.1:5000/auren/api:v1@sha256:${'a'.repeat(64)}`).registry).toBe('127.0.0.1:5000');
    expect(parseImageReference(`ubuntu:22.04@sha256:${'a'.repeat(64)}`).repository).toBe('library/ubuntu');
    expect(redactAddress('127.0.0.1:5000/auren')).toBe('127.0.0.1:5000/auren');
  });
});

describe('formatError: the one place errors become text', () => {
  const env = { AUREN_REGISTRY_PASSWORD: 'pw-from-env-123', DOCKERHUB_TOKEN: 'dckr_pat_abc', GITHUB_TOKEN: 'ghp_xyz987', COSIGN_PASSWORD: 'cosign-pw', AUREN_REGISTRY_USERNAME: 'ci' };
  it.each([
    ['an unexpected error whose message carries a secret', new Error('request failed: pw-from-env-123 rejected')],
    ['an AurenError whose hint carries a token', new AurenError('auth', 'login failed', 'token dckr_pat_abc and ghp_xyz987 and cosign-pw')],
    ['a URL with userinfo in a message', new AurenError('registry', 'GET https://ci:pw-from-env-123@ghcr.io/v2/ failed')],
  ])('%s is printed without it', (_name, error) => {
    const text = formatError(error, env);
    for (const secret of ['pw-from-env-123', 'dckr_pat_abc', 'ghp_xyz987', 'cosign-pw']) expect(text).not.toContain(secret);
    expect(text).toContain('***');
  });

  it('redacts userinfo even when the secret is not in the environment', () => {
    expect(formatError(new Error('fetch https://bob:opaque-value@r.example.com/v2/ failed'), {})).not.toContain('opaque-value');
  });
});

describe('property: AUREN_REGISTRY, whatever it holds', () => {
  const hostChar = fc.constantFrom(...'abcXYZ019.-:[]@/_ %'.split(''));
  const address = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.array(hostChar, { maxLength: 40 }).map((chars) => chars.join('')),
    fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 20 })).map(([user, pass, rest]) => `${user}:${pass}@${rest}`),
  );

  it('gives a valid host and namespace, or a config error that never repeats a password', () => {
    fc.assert(
      fc.property(address, fc.stringMatching(/^[0-9a-f]{12}$/), (raw, secretTail) => {
        // A password the address carries, made unmistakable so that any echo of it is found.
        const secret = `Pw${secretTail}`;
        const value = raw.includes('@') ? raw.replace(/^([^:@]*):[^@]*@/, `$1:${secret}@`) : raw;
        let parsed: ReturnType<typeof parseRegistryOverride>;
        try {
          parsed = parseRegistryOverride(value);
        } catch (error) {
          expect(error).toBeInstanceOf(AurenError);
          expect((error as AurenError).kind).toBe('config');
          expect(formatError(error as AurenError, {})).not.toContain(secret);
          return;
        }
        expect(value).not.toContain(secret);
        expect(validateRegistryHost(parsed.registry, 'test')).toBe(parsed.registry);
        expect(parsed.registry).not.toMatch(/[@/\s]/);
        if (parsed.namespace !== undefined) expect(parsed.namespace).toMatch(/^[a-z0-9]*([._/-][a-z0-9]+)*$/);
      }),
      { numRuns: 2000 },
    );
  });
});
