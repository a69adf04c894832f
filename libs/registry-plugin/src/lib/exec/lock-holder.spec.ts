import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { breakStale, isStale, parseHolder, thisHolder, tryCreateLock } from './lock-holder';

describe('lock holders', () => {
  let dir: string;
  let n = 0;
  const lockPath = () => join(dir, `l${n++}.lock`);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'auren-lock-holder-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const deadPid = async () => {
    const child = spawn('true');
    await new Promise((resolve) => child.once('exit', resolve));
    return child.pid!;
  };

  it('records what tells this process from another: host, boot, PID namespace, start tick, and a token', () => {
    const me = thisHolder('a test');
    expect(me).toMatchObject({ command: 'a test', pid: process.pid, host: hostname(), pidNamespace: readlinkSync('/proc/self/ns/pid') });
    expect(me.boot).toMatch(/^[0-9a-f-]{36}$/);
    expect(me.processStart).toMatch(/^\d+$/);
    expect(thisHolder('a test').token).not.toBe(me.token);
    expect(isStale(me)).toBe(false);
  });

  it('a holder is stale only when known gone: its pid free here, or its boot over; never in another PID namespace or on another host', async () => {
    const pid = await deadPid();
    const here = { command: 'x', pid, host: hostname(), pidNamespace: readlinkSync('/proc/self/ns/pid') };
    expect(isStale(here)).toBe(true);
    expect(isStale({ ...here, pidNamespace: 'pid:[1]' })).toBe(false);
    expect(isStale({ ...here, host: `not-${hostname()}` })).toBe(false);
    // This very process, recorded with another start tick: its pid was reused.
    expect(isStale({ ...thisHolder('x'), processStart: '1' })).toBe(true);
    expect(isStale({ ...thisHolder('x'), boot: '00000000-0000-0000-0000-000000000000' })).toBe(true);
  });

  it('reads a bare pid (what earlier versions wrote) as a holder on this host, and refuses what is not a holder', () => {
    expect(parseHolder('123\n', 'a build')).toEqual({ command: 'a build', pid: 123, host: hostname() });
    const wrongTyped = ['processStart', 'pidNamespace', 'boot', 'startedAt', 'token'].map((field) => JSON.stringify({ pid: process.pid, host: hostname(), command: 'c', [field]: 5 }));
    for (const text of ['', '{"pid":1}', '{"pid":-1,"host":"h","command":"c"}', '{"pid":1e300,"host":"h","command":"c"}', 'garbage', ...wrongTyped]) {
      expect(parseHolder(text, 'a build')).toBeUndefined();
    }
  });

  it('a takeover removes the stale lock it read, and not a lock another process took in its place', async () => {
    const path = lockPath();
    const stale = `${await deadPid()}`;
    writeFileSync(path, stale);
    // Another waiter took it over first: the file now holds that live holder.
    rmSync(path);
    const taken = tryCreateLock(path, thisHolder('the faster waiter'))!;
    expect(breakStale(path, stale)).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe(taken);
    // Once the stale lock is what the file holds, it goes, and so does the break lock.
    writeFileSync(path, stale);
    expect(breakStale(path, stale)).toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.break`)).toBe(false);
  });

  it('while another process is taking over, a takeover waits; a break lock left by a process killed in it is cleared after 10 s', () => {
    const path = lockPath();
    writeFileSync(path, 'stale');
    writeFileSync(`${path}.break`, '1');
    expect(breakStale(path, 'stale')).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('stale');
    const then = new Date(Date.now() - 11_000);
    utimesSync(`${path}.break`, then, then);
    expect(breakStale(path, 'stale')).toBe(false);
    expect(existsSync(`${path}.break`)).toBe(false);
    expect(breakStale(path, 'stale')).toBe(true);
  });
});
