import type { Clock } from '../util/clock.js';

/** A connection whose Keep Alive is enforced. */
export interface KeepAliveTarget {
  /** Time (ms) bytes last arrived; the connection updates it per chunk, a plain store. */
  lastActivity: number;
  /** One and a half times the Keep Alive, in ms. */
  keepAliveLimitMs: number;
  /** Called once the limit has passed without input. */
  keepAliveExpired(): void;
}

/**
 * Keep Alive enforcement (MQTT section 3.1.2.10): a connection that sends nothing for one and a half times its
 * Keep Alive is closed (5.0 [MQTT-3.1.2-22], 3.1.1 [MQTT-3.1.2-24]). One timer sweeps every connection, instead
 * of a timer per connection, so an idle connection costs no timer at all; the close comes within one sweep
 * interval after the limit.
 */
export class KeepAliveSweep {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #targets = new Set<KeepAliveTarget>();
  #timer: NodeJS.Timeout | undefined;

  constructor(clock: Clock, intervalMs = 1000) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
  }

  get size(): number {
    return this.#targets.size;
  }

  add(target: KeepAliveTarget): void {
    this.#targets.add(target);
    if (!this.#timer) {
      this.#timer = setInterval(this.#sweep, this.#intervalMs);
      this.#timer.unref?.();
    }
  }

  delete(target: KeepAliveTarget): void {
    this.#targets.delete(target);
    if (this.#targets.size === 0) this.stop();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  readonly #sweep = (): void => {
    const now = this.#clock.now();
    // Deleting the current element while iterating a Set is safe.
    for (const target of this.#targets) {
      if (now - target.lastActivity >= target.keepAliveLimitMs) {
        this.#targets.delete(target);
        target.keepAliveExpired();
      }
    }
    if (this.#targets.size === 0) this.stop();
  };
}
