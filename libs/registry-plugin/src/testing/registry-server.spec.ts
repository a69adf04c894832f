import { readFileSync } from 'node:fs';
import { useTestRegistry } from './registry-server.testing';

describe('useTestRegistry', () => {
  let calledAt: 'describe' | 'hook' = 'describe';
  const { registry, client } = useTestRegistry(() => {
    calledAt = 'hook';
    return { storageExtra: 'cache:\n  blobdescriptor: inmemory' };
  });
  // Read while Jest collects the describe: no registry exists yet.
  const early = (() => {
    try {
      return registry.host;
    } catch (error) {
      return error as Error;
    }
  })();

  it('refuses use before its beforeAll, with a message that says so', () => {
    expect(early).toBeInstanceOf(Error);
    expect((early as Error).message).toContain('before its beforeAll ran');
  });

  it('forwards to the registry it started, options read in the hook', async () => {
    expect(calledAt).toBe('hook');
    expect(registry.host).toBe(`127.0.0.1:${registry.port}`);
    expect({ ...registry }).toMatchObject({ host: registry.host, url: `http://${registry.host}` });
    expect(readFileSync(registry.configPath, 'utf8')).toContain('blobdescriptor: inmemory');
    const response = await fetch(`${registry.url}/v2/`);
    expect(response.status).toBe(200);
  });

  it('gives one client of that registry, which really talks to it', async () => {
    expect(client.manifestHead).toBe(client.manifestHead);
    expect(await client.manifestHead('auren/none', 'latest')).toBe('not-found');
  });
});
