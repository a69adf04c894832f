import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interpolate } from '../compose';
import { composeThirdPartyImages, mirrorEntries, writeMirrorRecord, type MirrorRecordEntry } from './mirror';

const workspaceRoot = join(__dirname, '..', '..', '..', '..', '..');
const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('mirror naming', () => {
  it.each([
    ['redis:7-alpine', { registry: 'docker.io', repository: 'library/redis', reference: '7-alpine' }, { repository: 'auren/mirror/redis', tags: ['7-alpine'] }],
    ['timescale/timescaledb:latest-pg16', { registry: 'docker.io', repository: 'timescale/timescaledb', reference: 'latest-pg16' }, { repository: 'auren/mirror/timescale/timescaledb', tags: ['latest-pg16'] }],
    ['confluentinc/cp-kafka:7.4.0', { registry: 'docker.io', repository: 'confluentinc/cp-kafka', reference: '7.4.0' }, { repository: 'auren/mirror/confluentinc/cp-kafka', tags: ['7.4.0'] }],
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', reference: 'latest' }, { repository: 'auren/mirror/nginx', tags: ['latest'] }],
    ['ghcr.io/org/tool:1.2', { registry: 'ghcr.io', repository: 'org/tool', reference: '1.2' }, { repository: 'auren/mirror/org/tool', tags: ['1.2'] }],
    [`redis@${DIGEST}`, { registry: 'docker.io', repository: 'library/redis', reference: DIGEST }, { repository: 'auren/mirror/redis', tags: [] }],
    [`redis:7@${DIGEST}`, { registry: 'docker.io', repository: 'library/redis', reference: DIGEST }, { repository: 'auren/mirror/redis', tags: ['7'] }],
  ])('%s', (image, source, target) => {
    expect(mirrorEntries([image], { namespace: 'auren' })[0]).toMatchObject({ image, source, target });
  });

  it('reads from sourceRegistry with the same repository path, and names the target after the original', () => {
    expect(mirrorEntries(['redis:7-alpine'], { namespace: '', sourceRegistry: '127.0.0.1:5001' })[0]).toMatchObject({
      source: { registry: '127.0.0.1:5001', repository: 'library/redis', reference: '7-alpine' },
      target: { repository: 'mirror/redis', tags: ['7-alpine'] },
    });
  });

  it('mirrors an image listed twice once, and refuses two images that would collide', () => {
    expect(mirrorEntries(['redis:7', 'docker.io/library/redis:7'], { namespace: 'auren' })).toHaveLength(1);
    expect(() => mirrorEntries(['org/tool:1', 'ghcr.io/org/tool:1'], { namespace: 'auren' })).toThrow(/would both be mirrored as auren\/mirror\/org\/tool:1/);
  });
});

describe('compose images', () => {
  it('takes the services without build: from the workspace docker-compose.yml', () => {
    expect(composeThirdPartyImages(join(workspaceRoot, 'docker-compose.yml'), {})).toEqual([
      'timescale/timescaledb:latest-pg16',
      'redis:7-alpine',
      'confluentinc/cp-kafka:7.4.0',
    ]);
  });

  it.each([
    ['redis:${REDIS_TAG:-7-alpine}', {}, 'redis:7-alpine'],
    ['redis:${REDIS_TAG:-7-alpine}', { REDIS_TAG: '' }, 'redis:7-alpine'],
    ['redis:${REDIS_TAG-7-alpine}', { REDIS_TAG: '' }, 'redis:'],
    ['${HUB}/redis:$TAG', { HUB: 'mirror.example.com', TAG: '7' }, 'mirror.example.com/redis:7'],
    ['a$$b', {}, 'a$b'],
  ])('interpolate(%p)', (value, env, expected) => {
    expect(interpolate(value, env, { where: 'test', unset: 'error' })).toBe(expected);
  });

  it('says which variable is missing', () => {
    expect(() => interpolate('redis:${TAG}', {}, { where: 'service redis', unset: 'error' })).toThrow(/service redis uses \$\{TAG\}, which is not set/);
  });

  it('refuses a file without services', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mirror-compose-'));
    try {
      writeFileSync(join(dir, 'c.yml'), 'version: "3"\n');
      expect(() => composeThirdPartyImages(join(dir, 'c.yml'))).toThrow(/has no "services" mapping/);
      expect(() => composeThirdPartyImages(join(dir, 'missing.yml'))).toThrow(/not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps earlier record entries for other targets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mirror-record-'));
    const entry = (target: string, digest: string): MirrorRecordEntry => ({ image: target, source: target, digest, mediaType: 'x', platforms: [], target, pinned: `${target}@${digest}` });
    try {
      const path = join(dir, 'mirror.json');
      await writeMirrorRecord(path, 'r:5000', [entry('r:5000/m/a:1', DIGEST), entry('r:5000/m/b:1', DIGEST)]);
      await writeMirrorRecord(path, 'r:5000', [entry('r:5000/m/b:1', `sha256:${'cd'.repeat(32)}`)]);
      const images = JSON.parse(readFileSync(path, 'utf8')).images as MirrorRecordEntry[];
      expect(images.map((i) => [i.target, i.digest.slice(7, 9)])).toEqual([['r:5000/m/a:1', 'ab'], ['r:5000/m/b:1', 'cd']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
