import { ReasonCode } from '../protocol/reason-codes.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { AuthenticateRequest, AuthenticateResult, Authenticator } from './types.js';

export interface ConnectionLimitsOptions {
  /**
   * Connected clients allowed across all listeners; a CONNECT beyond them gets CONNACK 0x97 Quota exceeded
   * (3.1.1: 0x03 Server unavailable). Undefined: no limit.
   */
  maxClients?: number;
  /** How many clients are connected right now (the broker's count). Required with `maxClients`. */
  connectedClients?: () => number;
  /**
   * Whether a client with this id is connected now. Its CONNECT takes the session over and closes the old
   * connection, adding no client, so it passes the cap: a device whose old connection is half dead is not locked out.
   */
  isConnected?: (clientId: string) => boolean;
  /**
   * CONNECTs accepted per second from one remote address, as a token bucket that holds one second's worth;
   * beyond, CONNACK 0x9F Connection rate exceeded (3.1.1: 0x03). 0 or undefined: no limit.
   */
  maxConnectionRate?: number;
  /** Connections from loopback addresses (127.x, ::1) are not rate limited (e.g. behind a local proxy). */
  exemptLoopback?: boolean;
  /** Most addresses tracked for the rate; the least recently seen one is forgotten first. Default 10,000. */
  maxAddresses?: number;
  clock: Clock;
  /** Refusals are logged as warnings, at most one line per kind every 10 s, so that a flood cannot fill the log. */
  logger?: Logger;
}

const LOG_INTERVAL_MS = 10_000;

/** What the limits refused since start. */
export interface ConnectionLimitStats {
  /** CONNECTs refused with 0x97 because `maxClients` were connected. */
  refusedQuota: number;
  /** CONNECTs refused with 0x9F because their address connected too often. */
  refusedRate: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/**
 * Puts connection limits in front of another authenticator: a broker-wide cap on connected clients and a
 * per-address connection rate. Both are checked before the credentials, so a flood of CONNECTs costs no hash.
 * Memory is bounded by `maxAddresses`.
 */
export class ConnectionLimitsAuthenticator implements Authenticator {
  readonly stats: ConnectionLimitStats = { refusedQuota: 0, refusedRate: 0 };
  readonly #inner: Authenticator;
  readonly #maxClients: number | undefined;
  readonly #connectedClients: () => number;
  readonly #isConnected: (clientId: string) => boolean;
  readonly #rate: number;
  readonly #exemptLoopback: boolean;
  readonly #maxAddresses: number;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket>();
  readonly #logger: Logger | undefined;
  /** Per kind: when the last warning was logged, and how many refusals it did not mention yet. */
  readonly #logState = { rate: { at: -Infinity, unlogged: 0 }, quota: { at: -Infinity, unlogged: 0 } };
  /** Authentications under way: they may all become clients, so they count against `maxClients`. */
  #pending = 0;

  constructor(inner: Authenticator, options: ConnectionLimitsOptions) {
    if (options.maxClients !== undefined && options.connectedClients === undefined) {
      throw new TypeError('ConnectionLimitsAuthenticator: maxClients needs connectedClients');
    }
    this.#inner = inner;
    this.#maxClients = options.maxClients;
    this.#connectedClients = options.connectedClients ?? (() => 0);
    this.#isConnected = options.isConnected ?? (() => false);
    this.#rate = options.maxConnectionRate ?? 0;
    this.#exemptLoopback = options.exemptLoopback ?? false;
    this.#maxAddresses = Math.max(1, options.maxAddresses ?? 10_000);
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  /** Number of addresses whose rate is tracked. */
  get trackedAddresses(): number {
    return this.#buckets.size;
  }

  authenticate(request: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult> {
    const address = request.remoteAddress;
    if (this.#rate > 0 && address !== undefined && !(this.#exemptLoopback && isLoopbackAddress(address))) {
      if (!this.#take(address)) {
        this.stats.refusedRate++;
        this.#warn('rate', address, 'CONNECT refused: connection rate exceeded (0x9F)');
        return { ok: false, reasonCode: ReasonCode.ConnectionRateExceeded };
      }
    }
    if (
      this.#maxClients !== undefined &&
      this.#connectedClients() + this.#pending >= this.#maxClients &&
      !this.#isConnected(request.clientId)
    ) {
      this.stats.refusedQuota++;
      this.#warn('quota', address, 'CONNECT refused: maxClients reached (0x97)');
      return { ok: false, reasonCode: ReasonCode.QuotaExceeded };
    }
    const result = this.#inner.authenticate(request);
    if (!(result instanceof Promise) || this.#maxClients === undefined) return result;
    this.#pending++;
    return result.finally(() => {
      this.#pending--;
    });
  }

  #warn(kind: 'rate' | 'quota', remoteAddress: string | undefined, message: string): void {
    if (this.#logger === undefined) return;
    const state = this.#logState[kind];
    state.unlogged++;
    const now = this.#clock.now();
    if (now - state.at < LOG_INTERVAL_MS) return;
    this.#logger.warn({ remoteAddress, refused: state.unlogged }, message);
    state.at = now;
    state.unlogged = 0;
  }

  /** Takes one token from the address's bucket; false when it is empty. */
  #take(address: string): boolean {
    const now = this.#clock.now();
    const bucket = this.#buckets.get(address);
    let tokens = this.#rate;
    if (bucket !== undefined) {
      tokens = Math.min(this.#rate, bucket.tokens + ((now - bucket.updated) * this.#rate) / 1000);
      // Re-inserted below, so that Map order is least recently seen first.
      this.#buckets.delete(address);
    }
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    this.#buckets.set(address, { tokens, updated: now });
    while (this.#buckets.size > this.#maxAddresses) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) break;
      this.#buckets.delete(oldest);
    }
    return allowed;
  }
}

/** True for loopback source addresses as sockets report them: 127.0.0.0/8, ::1 and ::ffff:127.x. */
function isLoopbackAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
