import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../lib/exec/exec';

/**
 * A throw-away PKI made with openssl: a CA, a server certificate for 127.0.0.1 / localhost / ::1
 * signed by it, and a client certificate (for mutual-TLS tests). EC P-256 keys keep it fast.
 */
export interface TestPki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** `tls:` block for startTestRegistry's `httpExtra` (server certificate only). */
  tlsYaml: string;
  /** `tls:` block that also requires client certificates signed by the CA. */
  mtlsYaml: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await exec('openssl', args, { cwd });
}

export async function createTestPki(options: { dir?: string; hosts?: string[] } = {}): Promise<TestPki> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'auren-pki-')));
  const hosts = options.hosts ?? ['127.0.0.1', 'localhost', '::1'];
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  const p = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  await openssl(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=AUREN test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);

  const sign = async (name: string, subject: string, ext: string) => {
    await openssl(['req', '-new', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', subject], dir);
    await writeFile(p(`${name}.ext`), ext);
    await openssl(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
      '-out', p(`${name}.crt`), '-days', '2', '-extfile', p(`${name}.ext`)], dir);
  };
  await sign('server', '/CN=127.0.0.1', `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`);
  await sign('client', '/CN=auren-test-client', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');

  const tls = ['tls:', `  certificate: ${p('server.crt')}`, `  key: ${p('server.key')}`];
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    tlsYaml: tls.join('\n'),
    mtlsYaml: [...tls, '  clientcas:', `    - ${p('ca.crt')}`].join('\n'),
  };
}
