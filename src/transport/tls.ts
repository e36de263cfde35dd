import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { TlsFiles } from './types.js';

/** Reads the PEM files and checks that they form a usable secure context (key matches cert, etc.). */
export async function readTlsContext(files: TlsFiles): Promise<SecureContextOptions> {
  const [cert, key, ca] = await Promise.all([
    readFile(files.cert),
    readFile(files.key),
    files.ca ? readFile(files.ca) : Promise.resolve(undefined),
  ]);
  const options: SecureContextOptions = { cert, key, minVersion: 'TLSv1.2' };
  if (ca) options.ca = ca;
  // Throws on a key that does not match the certificate or on unparsable PEM.
  createSecureContext(options);
  return options;
}

/** The CN of the peer certificate when the handshake verified it against our CA, else undefined. */
export function verifiedCommonName(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  if (Array.isArray(cn)) return cn[0];
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined;
}
