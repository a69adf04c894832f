import { rm } from 'node:fs/promises';
import { checkRootUser, runsAsRoot } from './checks/root-user';
import { checkSecrets, findSecretsInText, globToRegExp } from './checks/secrets';
import { checkSizeBudget } from './checks/size-budget';
import { readLayoutImages } from '../registry/layout';
import { FAKE_PEM, writeOciLayout, type Fixture, type FixtureImage } from './oci-fixture.testing';

// Token-shaped strings built at run time, so this file itself does not trip secret scanners.
const GHP = ['ghp', '_', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'].join('');
const AWS = ['AKIA', 'Z7QWERTYUIOPASDF'].join('');
const DOP = ['dop_v1_', 'a'.repeat(32), 'b'.repeat(32)].join('');
const SLACK = ['xoxb', '-', '123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'].join('');
const PAT = ['github_pat_', 'A'.repeat(22), '_', 'b'.repeat(59)].join('');
const DOCKER_AUTH = Buffer.from('deploy:s3cr3t-password').toString('base64');

describe('findSecretsInText', () => {
  it.each([
    ['private-key', `x\n${FAKE_PEM}`, '-----BEGIN RSA PRIVATE KEY-----', 2],
    ['private-key', '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n', '-----BEGIN OPENSSH PRIVATE KEY-----', 1],
    ['private-key', '-----BEGIN PRIVATE KEY-----\nabc\n', '-----BEGIN PRIVATE KEY-----', 1],
    ['aws-access-key-id', `aws_access_key_id = ${AWS}\n`, 'AKIA…', 1],
    ['github-token', `\n\nTOKEN=${GHP}`, 'ghp_…', 3],
    ['github-token', `token: ${PAT}`, 'gith…', 1],
    ['digitalocean-token', `DO_TOKEN=${DOP}`, 'dop_v1_…', 1],
    ['slack-token', `hook ${SLACK}`, 'xoxb-…', 1],
  ])('%s', (rule, text, masked, line) => {
    const found = findSecretsInText('etc/app.env', text);
    expect(found).toEqual([{ rule, path: 'etc/app.env', line, masked }]);
  });

  it('finds docker config.json credentials and masks them', () => {
    const config = JSON.stringify({ auths: { 'registry.digitalocean.com': { auth: DOCKER_AUTH } } });
    expect(findSecretsInText('root/.docker/config.json', config)).toEqual([
      { rule: 'docker-config-auth', path: 'root/.docker/config.json', masked: `registry.digitalocean.com: ${DOCKER_AUTH.slice(0, 4)}…` },
    ]);
  });

  it.each([
    ['a public key', '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----'],
    ["AWS's documented example key", 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE'],
    ['a too-short ghp_ string', 'ghp_short'],
    ['a docker config with a credential helper only', JSON.stringify({ auths: { 'ghcr.io': {} }, credsStore: 'pass' })],
    ['a docker config with an empty auth', JSON.stringify({ auths: { 'ghcr.io': { auth: '' } } })],
    ['plain prose', 'The private key is stored in Vault.'],
  ])('ignores %s', (_name, text) => {
    expect(findSecretsInText('root/.docker/config.json', text)).toEqual([]);
  });

  it.each([
    ['usr/share/doc/**', 'usr/share/doc/pkg/examples/key.pem', true],
    ['usr/share/doc/**', 'usr/share/docs/key.pem', false],
    ['/opt/app/tests/*.pem', 'opt/app/tests/fixture.pem', true],
    ['opt/app/tests/*.pem', 'opt/app/tests/sub/fixture.pem', false],
    ['**/testdata/**', 'usr/lib/python3/dist-packages/x/testdata/k.pem', true],
    ['etc/ssl/private/key?.pem', 'etc/ssl/private/key1.pem', true],
  ])('glob %s matches %s: %s', (glob, path, matches) => {
    expect(globToRegExp(glob).test(path)).toBe(matches);
  });
});

describe('checkSecrets over a real OCI layout', () => {
  const fixtures: Fixture[] = [];
  const layout = async (images: FixtureImage[]) => {
    const fixture = await writeOciLayout(images);
    fixtures.push(fixture);
    return fixture;
  };
  const scan = async (fixture: Fixture, allowPaths: string[] = []) => {
    const l = await readLayoutImages(fixture.layoutDir);
    return checkSecrets({ layoutDir: fixture.layoutDir, layerSets: l.images.map((i) => i.layers), allowPaths });
  };
  afterAll(async () => {
    await Promise.all(fixtures.map((f) => rm(f.root, { recursive: true, force: true })));
  });

  it('passes a clean image', async () => {
    const fx = await layout([{ layers: [[{ name: 'etc/', type: 'directory' }, { name: 'etc/app.conf', content: 'port=8080\n' }]] }]);
    const result = await scan(fx);
    expect(result.status).toBe('pass');
    expect(result.secrets).toEqual([]);
  });

  it('reports a private key deleted by a whiteout in a later layer: it is still in the image history', async () => {
    const fx = await layout([
      {
        layers: [
          [{ name: 'root/.ssh/', type: 'directory' }, { name: 'root/.ssh/id_rsa', content: FAKE_PEM }],
          [{ name: 'root/.ssh/.wh.id_rsa', content: '' }, { name: 'app/main.py', content: 'print("hi")\n' }],
        ],
      },
    ]);
    const result = await scan(fx);
    expect(result.status).toBe('fail');
    expect(result.secrets).toEqual([
      {
        rule: 'private-key',
        path: 'root/.ssh/id_rsa',
        layer: fx.layerDigests[0][0],
        line: 1,
        masked: '-----BEGIN RSA PRIVATE KEY-----',
        removedInLayer: { layer: fx.layerDigests[0][1], how: 'whiteout' },
      },
    ]);
    expect(result.message).toContain('deleted by a later layer but still in the image history');
  });

  it('tracks opaque-directory whiteouts and files overwritten by later layers', async () => {
    const fx = await layout([
      {
        layers: [
          [
            { name: './app/secrets/token.txt', content: `${GHP}\n` },
            { name: './app/.env', content: `AWS_ACCESS_KEY_ID=${AWS}\n` },
          ],
          [{ name: './app/secrets/.wh..wh..opq', content: '' }],
          [{ name: './app/.env', content: 'AWS_ACCESS_KEY_ID=\n' }],
        ],
      },
    ]);
    const result = await scan(fx);
    expect(result.secrets?.map((s) => [s.path, s.rule, s.removedInLayer])).toEqual([
      ['app/secrets/token.txt', 'github-token', { layer: fx.layerDigests[0][1], how: 'whiteout' }],
      ['app/.env', 'aws-access-key-id', { layer: fx.layerDigests[0][2], how: 'overwritten' }],
    ]);
  });

  it('never writes the secret value into the result', async () => {
    const fx = await layout([
      {
        layers: [
          [
            { name: 'srv/.env', content: `GITHUB_TOKEN=${GHP}\nDO=${DOP}\nSLACK=${SLACK}\n` },
            { name: 'root/.docker/config.json', content: JSON.stringify({ auths: { 'ghcr.io': { auth: DOCKER_AUTH } } }) },
          ],
        ],
      },
    ]);
    const result = await scan(fx);
    expect(result.secrets?.map((s) => s.rule)).toEqual(['github-token', 'digitalocean-token', 'slack-token', 'docker-config-auth']);
    const text = JSON.stringify(result);
    for (const secret of [GHP, DOP, SLACK, DOCKER_AUTH, GHP.slice(4, 20)]) expect(text).not.toContain(secret);
  });

  it('skips binaries, files above the size limit and allowed paths; reads plain-tar layers', async () => {
    const binary = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0]), Buffer.from(FAKE_PEM)]);
    const big = Buffer.alloc(5 * 1024 * 1024, 'a');
    Buffer.from(FAKE_PEM).copy(big, 0);
    const fx = await layout([
      {
        plainLayers: [1],
        layers: [
          [
            { name: 'usr/bin/tool', content: binary },
            { name: 'var/big.log', content: big },
            { name: 'usr/share/doc/example/key.pem', content: FAKE_PEM },
          ],
          [{ name: 'etc/ssl/private/server.key', content: FAKE_PEM }],
        ],
      },
    ]);
    const result = await scan(fx, ['usr/share/doc/**']);
    expect(result.secrets?.map((s) => [s.path, s.layer])).toEqual([['etc/ssl/private/server.key', fx.layerDigests[0][1]]]);
  });

  it('reads every platform of a multi-platform image, shared layers once', async () => {
    const base = [{ name: 'etc/os-release', content: 'ID=debian\n' }];
    const fx = await layout([
      { layers: [base, [{ name: 'app/key.pem', content: FAKE_PEM }]], user: '10001' },
      { layers: [base], platform: { os: 'linux', architecture: 'arm64' }, user: '10001' },
    ]);
    const result = await scan(fx);
    expect(result.secrets).toHaveLength(1);
    expect(result.secrets?.[0].path).toBe('app/key.pem');
  });
});

describe('root user check', () => {
  it.each([
    [undefined, true],
    ['', true],
    ['root', true],
    ['0', true],
    ['0:0', true],
    ['root:root', true],
    ['10001', false],
    ['10001:0', false],
    ['app', false],
    ['app:app', false],
  ])('User %p runs as root: %p', (user, root) => {
    expect(runsAsRoot(user)).toBe(root);
  });

  it('fails with the fix, naming the platform, reading the config from a real layout', async () => {
    const fx = await writeOciLayout([
      { layers: [[{ name: 'a', content: 'a' }]], user: '10001' },
      { layers: [[{ name: 'a', content: 'a' }]], user: '0:0', platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    try {
      const result = checkRootUser((await readLayoutImages(fx.layoutDir)).images);
      expect(result.status).toBe('fail');
      expect(result.message).toBe('image runs as root: linux/arm64 (User "0:0")');
      expect(result.hint).toContain('USER 10001');
    } finally {
      await rm(fx.root, { recursive: true, force: true });
    }
  });

  it('passes a non-root image', () => {
    expect(checkRootUser([{ platform: 'linux/amd64', config: { config: { User: '10001' } } }]).status).toBe('pass');
  });

  it('only warns about root where the project allows it (base images)', () => {
    const result = checkRootUser([{ platform: 'linux/amd64', config: { config: {} } }], true);
    expect(result.status).toBe('warn');
    expect(result.message).toMatch(/allowed for this project/);
  });
});

describe('size budget check', () => {
  const MiB = 1024 * 1024;
  it.each([
    [100 * MiB, { warnBytes: 500 * MiB, failBytes: 1024 * MiB }, 'pass'],
    [500 * MiB, { warnBytes: 500 * MiB, failBytes: 1024 * MiB }, 'pass'],
    [500 * MiB + 1, { warnBytes: 500 * MiB, failBytes: 1024 * MiB }, 'warn'],
    [1024 * MiB + 1, { warnBytes: 500 * MiB, failBytes: 1024 * MiB }, 'fail'],
    [2048 * MiB, { warnBytes: 0, failBytes: 0 }, 'pass'],
    [2048 * MiB, { warnBytes: 100 * MiB, failBytes: 0 }, 'warn'],
  ] as const)('%d bytes with %j → %s', (bytes, budgets, status) => {
    expect(checkSizeBudget(bytes, budgets).status).toBe(status);
  });

  it('says which budget and by how much', () => {
    expect(checkSizeBudget(1_500_000_000, { warnBytes: 500_000_000, failBytes: 1_000_000_000 }).message).toBe(
      'image is 1.5 GB compressed, above the 1.0 GB limit (budgets.failBytes)',
    );
  });
});
