import { normalizeOptions, type SigningOptions } from '../config/options';
import { legacySignArgs, signArgs } from './sign';
import { verifyArgs } from './verify';
import { registryFlags } from '../connect/child-tools';

describe('signing options', () => {
  it.each([
    [{}, {}, { mode: 'local', publicKey: undefined, tlog: false }],
    [false, {}, { mode: 'off', publicKey: undefined, tlog: false }],
    [false, { AUREN_SIGNING_KEY: 'awskms:///alias/ci' }, { mode: 'key', key: 'awskms:///alias/ci', publicKey: undefined, tlog: false }],
    [{ publicKey: 'cosign.pub' }, {}, { mode: 'none', publicKey: 'cosign.pub', tlog: false }],
    [{ key: 'cosign.key', publicKey: 'cosign.pub' }, {}, { mode: 'key', key: 'cosign.key', publicKey: 'cosign.pub', tlog: false }],
    [{ key: 'cosign.key', tlog: true }, {}, { mode: 'key', key: 'cosign.key', publicKey: undefined, tlog: true }],
    [{}, { AUREN_SIGNING_KEY: 'awskms:///alias/auren', AUREN_SIGNING_PUBLIC_KEY: 'awskms:///alias/auren' }, { mode: 'key', key: 'awskms:///alias/auren', publicKey: 'awskms:///alias/auren', tlog: false }],
    [{ keyless: true, identity: 'https://github.com/o/r/.github/workflows/release.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com' }, {}, { mode: 'keyless', identity: 'https://github.com/o/r/.github/workflows/release.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com', publicKey: undefined, tlog: true }],
    // CI keyless: the identity names the run's own workflow ref, so it comes from the environment.
    [{}, { AUREN_SIGNING_IDENTITY: 'https://github.com/o/r/.github/workflows/release.yml@refs/heads/develop', AUREN_SIGNING_ISSUER: 'https://token.actions.githubusercontent.com' }, { mode: 'keyless', identity: 'https://github.com/o/r/.github/workflows/release.yml@refs/heads/develop', issuer: 'https://token.actions.githubusercontent.com', publicKey: undefined, tlog: true }],
    [false, { AUREN_SIGNING_IDENTITY: 'id', AUREN_SIGNING_ISSUER: 'iss' }, { mode: 'keyless', identity: 'id', issuer: 'iss', publicKey: undefined, tlog: true }],
    [{ keyless: true, identity: 'nx-id', issuer: 'nx-iss' }, { AUREN_SIGNING_IDENTITY: 'ci-id', AUREN_SIGNING_ISSUER: 'ci-iss' }, { mode: 'keyless', identity: 'ci-id', issuer: 'ci-iss', publicKey: undefined, tlog: true }],
    [{}, { AUREN_SIGNING_IDENTITY: '', AUREN_SIGNING_ISSUER: '' }, { mode: 'local', publicKey: undefined, tlog: false }],
  ])('%j with env %j → %j', (signing, env, expected) => {
    expect(normalizeOptions({ signing: signing as SigningOptions | false }, env).signing).toEqual(expected);
  });

  it.each([
    [{ keyless: true }, /needs signing.identity and signing.issuer/],
    [{ keyless: true, identity: 'x', issuer: 'y', key: 'k' }, /both set/],
    [{ kee: 'cosign.key' }, /unknown option signing.kee/],
    [{ key: 'k', tlog: 'yes' }, /signing.tlog must be a boolean/],
    [true, /signing must be an object/],
    ['false', /signing must be an object/],
  ])('rejects %j', (signing, message) => {
    expect(() => normalizeOptions({ signing } as never, {})).toThrow(message);
  });

  it.each([
    [{ AUREN_SIGNING_IDENTITY: 'id' }, /AUREN_SIGNING_IDENTITY and AUREN_SIGNING_ISSUER must be set together/],
    [{ AUREN_SIGNING_ISSUER: 'iss' }, /must be set together/],
    [{ AUREN_SIGNING_IDENTITY: 'id', AUREN_SIGNING_ISSUER: 'iss', AUREN_SIGNING_KEY: 'awskms:///alias/ci' }, /both set/],
  ])('rejects the environment %j', (env, message) => {
    expect(() => normalizeOptions({}, env)).toThrow(message);
  });

  it('builds cosign argv: offline key signing, keyless, and verification', () => {
    const key = normalizeOptions({ signing: { key: 'cosign.key', publicKey: 'cosign.pub' } }, {}).signing;
    const ref = `127.0.0.1:5000/auren/api@sha256:${'a'.repeat(64)}`;
    const flags = registryFlags('127.0.0.1:5000', []);
    expect(signArgs(key, '/abs/cosign.key', ref, flags)).toEqual([
      'sign', '--key', '/abs/cosign.key', '--use-signing-config=false', '--tlog-upload=false', '--yes', '--allow-http-registry', '--allow-insecure-registry', ref,
    ]);
    expect(verifyArgs(key, '/abs/cosign.pub', ref, flags)).toEqual([
      'verify', '--key', '/abs/cosign.pub', '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', '--output', 'json', ref,
    ]);
    const keyless = normalizeOptions({ signing: { keyless: true, identity: 'id', issuer: 'iss' } }, {}).signing;
    expect(signArgs(keyless, undefined, ref, [])).toEqual(['sign', '--yes', ref]);
    // The legacy-format signature admission controllers read: same identity, no signing config.
    expect(legacySignArgs(signArgs(key, '/abs/cosign.key', ref, flags))).toEqual([
      'sign', '--key', '/abs/cosign.key', '--use-signing-config=false', '--tlog-upload=false', '--new-bundle-format=false', '--yes', '--allow-http-registry', '--allow-insecure-registry', ref,
    ]);
    expect(legacySignArgs(signArgs(keyless, undefined, ref, []))).toEqual(['sign', '--new-bundle-format=false', '--use-signing-config=false', '--yes', ref]);
    expect(legacySignArgs([])).toEqual([]);
    expect(verifyArgs(keyless, undefined, ref, [])).toEqual(['verify', '--certificate-identity', 'id', '--certificate-oidc-issuer', 'iss', '--output', 'json', ref]);
    expect(registryFlags('registry.example.com', [])).toEqual([]);
    expect(registryFlags('registry.internal:5000', ['registry.internal:5000'])).toEqual(['--allow-http-registry', '--allow-insecure-registry']);
  });
});
