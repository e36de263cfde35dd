import type { Clock } from '../util/clock.js';

export interface FailureThrottleOptions {
  /** Failures an address may have before its attempts are slowed down (default 5). */
  freeFailures?: number;
  /** Delay after the first failure beyond the free ones, doubled for each further failure (default 250 ms). */
  baseDelayMs?: number;
  /** Upper bound of the delay (default 10 s). */
  maxDelayMs?: number;
  /** An address's failures are forgotten this long after its last failure (default 10 min). */
  forgetAfterMs?: number;
  /** Most addresses tracked; the least recently failing one is forgotten first (default 10,000). */
  maxAddresses?: number;
  clock: Clock;
}

interface Entry {
  failures: number;
  lastFailure: number;
}

/**
 * Slows down password guessing: after a few failed logins from one remote address, each further attempt from it
 * waits an exponentially growing delay before it is answered. Memory is bounded by `maxAddresses`.
 */
export class FailureThrottle {
  readonly #entries = new Map<string, Entry>();
  readonly #freeFailures: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #forgetAfterMs: number;
  readonly #maxAddresses: number;
  readonly #clock: Clock;

  constructor(options: FailureThrottleOptions) {
    this.#freeFailures = options.freeFailures ?? 5;
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 10_000;
    this.#forgetAfterMs = options.forgetAfterMs ?? 10 * 60_000;
    this.#maxAddresses = Math.max(1, options.maxAddresses ?? 10_000);
    this.#clock = options.clock;
  }

  /** Number of addresses with recorded failures. */
  get size(): number {
    return this.#entries.size;
  }

  /** How long to hold an attempt from this address before answering it, in ms (0: answer at once). */
  delayFor(address: string): number {
    const entry = this.#current(address);
    if (entry === undefined || entry.failures < this.#freeFailures) return 0;
    const exponent = Math.min(entry.failures - this.#freeFailures, 30);
    return Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** exponent);
  }

  /** Counts a failed login from this address. */
  recordFailure(address: string): void {
    const now = this.#clock.now();
    const entry = this.#current(address);
    // Re-insert so that Map order is least-recently-failing first.
    this.#entries.delete(address);
    this.#entries.set(address, { failures: (entry?.failures ?? 0) + 1, lastFailure: now });
    while (this.#entries.size > this.#maxAddresses) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  /** A successful login clears the address's record. */
  recordSuccess(address: string): void {
    this.#entries.delete(address);
  }

  #current(address: string): Entry | undefined {
    const entry = this.#entries.get(address);
    if (entry !== undefined && this.#clock.now() - entry.lastFailure >= this.#forgetAfterMs) {
      this.#entries.delete(address);
      return undefined;
    }
    return entry;
  }
}
