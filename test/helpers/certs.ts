import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of PEM files made by openssl for a test run: a CA, certificates it signed, and an outsider. */
export interface TestCertificates {
  dir: string;
  caCert: string;
  caKey: string;
  /** Server certificate for 127.0.0.1, ::1 and localhost, signed by the CA. */
  serverCert: string;
  serverKey: string;
  /** A second server certificate (CN starling-renewed) for reload tests. */
  renewedCert: string;
  renewedKey: string;
  /** Client certificate with CN 'device-42', signed by the CA. */
  clientCert: string;
  clientKey: string;
  /** Client certificate signed by a CA the server does not trust. */
  strangerCert: string;
  strangerKey: string;
}

let pending: Promise<TestCertificates> | undefined;

/** Generates the certificates once per process (openssl, ~1 s) and removes them at exit. */
export function testCertificates(): Promise<TestCertificates> {
  pending ??= generate();
  return pending;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 30_000 });
}

async function generate(): Promise<TestCertificates> {
  const dir = mkdtempSync(join(tmpdir(), 'starling-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => join(dir, name);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  await Promise.all([
    openssl(
      dir,
      'req',
      '-x509',
      ...ecKey,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=Starling Test CA',
    ),
    openssl(
      dir,
      'req',
      '-x509',
      ...ecKey,
      '-keyout',
      'other-ca.key',
      '-out',
      'other-ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=Stranger CA',
    ),
  ]);

  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(file('client.ext'), 'extendedKeyUsage=clientAuth\n');

  const issue = async (name: string, cn: string, ca: string, ext: string) => {
    await openssl(dir, 'req', '-new', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    await openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      ext,
    );
  };
  await issue('server', 'starling-test-server', 'ca', 'server.ext');
  await issue('renewed', 'starling-renewed', 'ca', 'server.ext');
  await issue('client', 'device-42', 'ca', 'client.ext');
  await issue('stranger', 'stranger', 'other-ca', 'client.ext');

  return {
    dir,
    caCert: file('ca.crt'),
    caKey: file('ca.key'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    renewedCert: file('renewed.crt'),
    renewedKey: file('renewed.key'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
    strangerCert: file('stranger.crt'),
    strangerKey: file('stranger.key'),
  };
}
