import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { MqttError } from '../protocol/errors.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { type Clock, systemClock } from '../util/clock.js';
import { FailureThrottle } from './failure-throttle.js';
import { defaultScryptParams, type PasswordHash, parsePasswordHash, verifyPassword } from './password-hash.js';
import type { AuthenticateRequest, AuthenticateResult, Authenticator } from './types.js';

/** A password file's content: username -> hash text, in file order. */
export type PasswordEntries = Map<string, string>;

/**
 * Parses a Mosquitto-style password file: one `username:hash` per line; blank lines and lines starting with
 * '#' are ignored. Throws MqttError naming the file and line for anything else.
 */
export function parsePasswordFile(text: string, source = 'password file'): PasswordEntries {
  const entries: PasswordEntries = new Map();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw fileError(source, i + 1, 'expected username:hash');
    const username = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (parsePasswordHash(hash) === undefined) {
      throw fileError(source, i + 1, `user ${JSON.stringify(username)} has an unrecognised or malformed hash`);
    }
    if (entries.has(username)) throw fileError(source, i + 1, `user ${JSON.stringify(username)} appears twice`);
    entries.set(username, hash);
  }
  return entries;
}

/** The text of a password file holding these entries. */
export function formatPasswordFile(entries: PasswordEntries): string {
  let out = '';
  for (const [username, hash] of entries) out += `${username}:${hash}\n`;
  return out;
}

/** Reads and parses a password file. */
export async function readPasswordFile(path: string): Promise<PasswordEntries> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new MqttError(ReasonCode.UnspecifiedError, `cannot read password file ${path}`, { cause });
  }
  return parsePasswordFile(text, path);
}

/** Writes a password file readable only by its owner, atomically (a crash leaves the old file or the new one). */
export async function writePasswordFile(path: string, entries: PasswordEntries): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, formatPasswordFile(entries), { mode: 0o600 });
    await rename(tmp, path);
  } catch (cause) {
    await unlink(tmp).catch(() => {});
    throw new MqttError(ReasonCode.UnspecifiedError, `cannot write password file ${path}`, { cause });
  }
}

export interface PasswordFileAuthenticatorOptions {
  /** Accept clients that send no username (default false: refused with 0x87 Not authorized). */
  allowAnonymous?: boolean;
  /** Slows down repeated failures per remote address; `false` turns it off. Default: a FailureThrottle. */
  throttle?: FailureThrottle | false;
  /** Used by the default throttle. */
  clock?: Clock;
  /** How to wait out a throttle delay (tests inject a fake). */
  sleep?: (ms: number) => Promise<unknown>;
}

/**
 * Authenticates clients against a password file (see `parsePasswordFile`). Bad credentials get 0x86; a client
 * without a username gets 0x87 unless anonymous access is allowed. A username that is not in the file still
 * costs one hash computation, so response time does not tell which users exist.
 */
export class PasswordFileAuthenticator implements Authenticator {
  readonly path: string | undefined;
  #users: Map<string, PasswordHash>;
  readonly #allowAnonymous: boolean;
  readonly #throttle: FailureThrottle | undefined;
  readonly #sleep: (ms: number) => Promise<unknown>;
  /** Verified against when the user is unknown: same cost as a real check, never matches. */
  readonly #dummy: PasswordHash = {
    kind: 'scrypt',
    params: { ...defaultScryptParams },
    salt: Buffer.alloc(16, 0x5a),
    hash: Buffer.alloc(32),
  };

  constructor(entries: PasswordEntries, options: PasswordFileAuthenticatorOptions = {}, path?: string) {
    this.path = path;
    this.#users = compile(entries);
    this.#allowAnonymous = options.allowAnonymous ?? false;
    this.#throttle =
      options.throttle === false
        ? undefined
        : (options.throttle ?? new FailureThrottle({ clock: options.clock ?? systemClock }));
    this.#sleep = options.sleep ?? sleep;
  }

  /** Loads the password file at `path`. */
  static async load(path: string, options: PasswordFileAuthenticatorOptions = {}): Promise<PasswordFileAuthenticator> {
    return new PasswordFileAuthenticator(await readPasswordFile(path), options, path);
  }

  /** Number of users in the file. */
  get size(): number {
    return this.#users.size;
  }

  /** Re-reads the file. When it cannot be read or parsed, the users loaded before stay in force and this throws. */
  async reload(): Promise<void> {
    if (this.path === undefined) throw new MqttError(ReasonCode.UnspecifiedError, 'no password file to reload');
    this.#users = compile(await readPasswordFile(this.path));
  }

  async authenticate(request: AuthenticateRequest): Promise<AuthenticateResult> {
    const address = request.remoteAddress;
    if (this.#throttle !== undefined && address !== undefined) {
      const delay = this.#throttle.delayFor(address);
      if (delay > 0) await this.#sleep(delay);
    }
    if (request.username === undefined) {
      if (this.#allowAnonymous && request.password === undefined) return { ok: true };
      return this.#fail(
        address,
        request.password === undefined ? ReasonCode.NotAuthorized : ReasonCode.BadUserNameOrPassword,
      );
    }
    const hash = this.#users.get(request.username);
    const password = request.password ?? Buffer.alloc(0);
    const matches = await verifyPassword(password, hash ?? this.#dummy);
    if (hash === undefined || request.password === undefined || !matches) {
      return this.#fail(address, ReasonCode.BadUserNameOrPassword);
    }
    if (this.#throttle !== undefined && address !== undefined) this.#throttle.recordSuccess(address);
    return { ok: true };
  }

  #fail(address: string | undefined, reasonCode: number): AuthenticateResult {
    if (this.#throttle !== undefined && address !== undefined) this.#throttle.recordFailure(address);
    return { ok: false, reasonCode };
  }
}

function compile(entries: PasswordEntries): Map<string, PasswordHash> {
  const users = new Map<string, PasswordHash>();
  for (const [username, text] of entries) {
    const hash = parsePasswordHash(text);
    if (hash === undefined) {
      throw new MqttError(ReasonCode.UnspecifiedError, `user ${JSON.stringify(username)} has a malformed hash`);
    }
    users.set(username, hash);
  }
  return users;
}

function fileError(source: string, line: number, message: string): MqttError {
  return new MqttError(ReasonCode.UnspecifiedError, `${source} line ${line}: ${message}`);
}
