import { createHash, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

// Password hashes in a self-describing text form, one per password file line:
//   $scrypt$N=16384,r=8,p=1$<salt base64>$<hash base64>   Starling's own (memory-hard; the default)
//   $7$<iterations>$<salt base64>$<hash base64>            Mosquitto 2 (PBKDF2-HMAC-SHA512), accepted
//   $6$<salt base64>$<hash base64>                         Mosquitto 1.x (SHA-512 of password + salt), accepted

const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;
const pbkdf2Async = promisify(pbkdf2);

export interface ScryptParams {
  /** CPU/memory cost, a power of two (default 16384: about 16 MiB and a few tens of ms). */
  N: number;
  r: number;
  p: number;
}

export const defaultScryptParams: Readonly<ScryptParams> = Object.freeze({ N: 16384, r: 8, p: 1 });

const SALT_BYTES = 16;
const HASH_BYTES = 32;
// Bounds on the parameters a password file may ask for, so a tampered file cannot make each CONNECT
// allocate gigabytes or spin for minutes.
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_PBKDF2_ITERATIONS = 10_000_000;

/** A parsed password hash, ready to verify. */
export type PasswordHash =
  | { kind: 'scrypt'; params: ScryptParams; salt: Buffer; hash: Buffer }
  | { kind: 'pbkdf2-sha512'; iterations: number; salt: Buffer; hash: Buffer }
  | { kind: 'sha512'; salt: Buffer; hash: Buffer };

/** Hashes a password with scrypt and a random salt, in the `$scrypt$...` text form. */
export async function hashPassword(
  password: string | Buffer,
  params: ScryptParams = defaultScryptParams,
): Promise<string> {
  checkScryptParams(params);
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(toBuffer(password), salt, HASH_BYTES, { ...params, maxmem: maxmem(params) });
  return `$scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Parses a hash in one of the accepted text forms; undefined when it is not one. */
export function parsePasswordHash(text: string): PasswordHash | undefined {
  const parts = text.split('$');
  // A leading '$' makes parts[0] empty.
  if (parts[0] !== '') return undefined;
  if (parts[1] === 'scrypt' && parts.length === 5) {
    const m = /^N=(\d+),r=(\d+),p=(\d+)$/.exec(parts[2]!);
    if (!m) return undefined;
    const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
    const salt = fromBase64(parts[3]!);
    const hash = fromBase64(parts[4]!);
    if (!validScryptParams(params) || !salt || !hash || hash.length < 16) return undefined;
    return { kind: 'scrypt', params, salt, hash };
  }
  if (parts[1] === '7' && parts.length === 5) {
    if (!/^\d+$/.test(parts[2]!)) return undefined;
    const iterations = Number(parts[2]);
    const salt = fromBase64(parts[3]!);
    const hash = fromBase64(parts[4]!);
    if (iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS || !salt || !hash || hash.length !== 64) return undefined;
    return { kind: 'pbkdf2-sha512', iterations, salt, hash };
  }
  if (parts[1] === '6' && parts.length === 4) {
    const salt = fromBase64(parts[2]!);
    const hash = fromBase64(parts[3]!);
    if (!salt || !hash || hash.length !== 64) return undefined;
    return { kind: 'sha512', salt, hash };
  }
  return undefined;
}

/** True when the password matches the hash. Compares in constant time. */
export async function verifyPassword(password: string | Buffer, hash: PasswordHash): Promise<boolean> {
  const input = toBuffer(password);
  let computed: Buffer;
  switch (hash.kind) {
    case 'scrypt':
      computed = await scryptAsync(input, hash.salt, hash.hash.length, {
        ...hash.params,
        maxmem: maxmem(hash.params),
      });
      break;
    case 'pbkdf2-sha512':
      computed = await pbkdf2Async(input, hash.salt, hash.iterations, 64, 'sha512');
      break;
    case 'sha512':
      computed = createHash('sha512').update(input).update(hash.salt).digest();
      break;
  }
  return computed.length === hash.hash.length && timingSafeEqual(computed, hash.hash);
}

function toBuffer(password: string | Buffer): Buffer {
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
}

function validScryptParams(p: ScryptParams): boolean {
  return (
    Number.isInteger(p.N) &&
    p.N >= 2 &&
    p.N <= MAX_N &&
    (p.N & (p.N - 1)) === 0 &&
    Number.isInteger(p.r) &&
    p.r >= 1 &&
    p.r <= MAX_R &&
    Number.isInteger(p.p) &&
    p.p >= 1 &&
    p.p <= MAX_P
  );
}

function checkScryptParams(p: ScryptParams): void {
  if (!validScryptParams(p)) {
    throw new RangeError(`scrypt parameters out of range: N=${p.N} (power of two <= ${MAX_N}), r=${p.r}, p=${p.p}`);
  }
}

/** scrypt needs 128 * N * r bytes; leave headroom above Node's 32 MiB default. */
function maxmem(p: ScryptParams): number {
  return 128 * p.N * p.r * 2 + 1024 * 1024;
}

function fromBase64(s: string): Buffer | undefined {
  if (s.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  return Buffer.from(s, 'base64');
}
