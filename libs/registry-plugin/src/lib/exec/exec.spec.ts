import { exec } from './exec';

describe('exec', () => {
  let written: string[];
  let write: jest.SpyInstance;
  const saved = process.env['AUREN_TRACE'];
  beforeEach(() => {
    written = [];
    write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    write.mockRestore();
    if (saved === undefined) delete process.env['AUREN_TRACE'];
    else process.env['AUREN_TRACE'] = saved;
  });

  it('names the command, its exit code and the end of its stderr when it fails', async () => {
    await expect(exec('sh', ['-c', 'echo first >&2; echo last >&2; exit 3'])).rejects.toThrow(/`sh -c 'echo first >&2; echo last >&2; exit 3'` exited with code 3:\nfirst\nlast/);
  });

  it('keeps redacted strings out of the error', async () => {
    const error = await exec('sh', ['-c', 'echo token s3cret >&2; exit 1', 's3cret'], { redact: ['s3cret'] }).catch((e: Error) => e);
    expect(String(error)).not.toContain('s3cret');
  });

  it('with AUREN_TRACE=1 prints each command with its duration on stderr, and nothing without it', async () => {
    delete process.env['AUREN_TRACE'];
    await exec('true', []);
    expect(written.join('')).toBe('');
    process.env['AUREN_TRACE'] = '1';
    await exec('sh', ['-c', 'sleep 0.05']);
    const line = written.join('');
    expect(line).toMatch(/^auren-trace: +\d+ ms sh -c 'sleep 0.05'\n$/);
    expect(Number(/(\d+) ms/.exec(line)?.[1])).toBeGreaterThanOrEqual(40);
  });
});
