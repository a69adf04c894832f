import { readdirSync, readFileSync } from 'node:fs';
import { startTestRegistries, useTestRegistry } from './registry-server.testing';

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

/** Registry processes this test process started and that still run. */
function ourRegistries(): string[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return ppid === process.pid && cmdline.includes('serve') && !stat.includes(') Z ') ? [cmdline.join(' ')] : [];
      } catch {
        return [];
      }
    });
}

describe('startTestRegistries', () => {
  it('starts them all', async () => {
    const [a, b] = await startTestRegistries({}, { flavor: 'distribution2' });
    try {
      expect(a.port).not.toBe(b.port);
      expect((await fetch(`${a.url}/v2/`)).status).toBe(200);
      expect((await fetch(`${b.url}/v2/`)).status).toBe(200);
      expect(ourRegistries()).toHaveLength(2);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('when one cannot start, stops the ones that did and throws: none is left running', async () => {
    const before = ourRegistries();
    // distribution refuses this configuration and exits; the first two start.
    await expect(startTestRegistries({}, {}, { extraConfig: 'storage: [not, a, map]' })).rejects.toThrow(/registry exited|did not listen/);
    expect(ourRegistries()).toEqual(before);
  });
});
